"""The AWS CDK app's constructs, one module per concern, all driven by the one TOML config.

`stack.OpwatchStack` composes them for one environment (`[aws.environments.NAME]`):
`keys` (the stack's KMS key), `state` (DynamoDB tables), `secrets`, `findings` (the SNS
findings topic and its subscribers), `function` (a Lambda with its own role, log group and
dead-letter queue), `checks` (one function and schedule per check and network), `pager`,
`monitoring` (self-watch alarms) and `dashboard`. `bundling` builds the code asset without
Docker; `nag` holds the cdk-nag acknowledgements shared by several constructs.
"""
