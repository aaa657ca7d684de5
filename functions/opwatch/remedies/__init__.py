"""Remedies: top-up, snapshot, failover and restore, guarded, idempotent, capped and audited.

A remedy that misfires is worse than none, so every remedy here refuses by default: it acts
only on a `firing` finding (never `unknown`) or an explicit request, only within the
`[remediation]` policy of its network, only once per request id, and it records every step
in the audit log of its state store. Cloud specifics sit behind small interfaces written
here once (`SnapshotProvider`, `RemedyStore`, `SequencerLauncher`, `EndpointSwitch`,
`Signer`, their errors in `restore`, wait budgets in `waits`); their implementations live with
their cloud (`opwatch.aws`, `opwatch.gcp`) and reach the core through the runtime's registry
(`opwatch.registry`). No module here imports a cloud SDK.

Modules: `policy` (the `[remediation]` config section), `request` (the one payload schema
for AWS and GCP), `store` (caps, idempotency, leases, audit: the contract and SQLite),
`audit`, `signer` (the local-key signer and the signer contract), `topup`, `snapshot`,
`restore`, `waits`, `failover`, `paging`, `service`, `permissions` (IAM actions / GCP roles per
remedy). The command line is `opwatch.cli.remedies`.
"""
