"""Remedies: top-up, snapshot, failover and restore, guarded, idempotent, capped and audited.

A remedy that misfires is worse than none, so every remedy here refuses by default: it acts
only on a `firing` finding (never `unknown`) or an explicit request, only within the
`[remediation]` policy of its network, only once per request id, and it records every step
in the audit log of its state store. Cloud specifics (KMS, Secrets Manager, S3, DynamoDB,
EBS) sit behind small interfaces with injected clients; nothing here is imported by a
check's cold path.

Modules: `policy` (the `[remediation]` config section), `request` (the one payload schema
for AWS and GCP), `store` (caps, idempotency, leases, audit: SQLite and DynamoDB),
`audit`, `signer` (secret sources, local-key and AWS KMS signers), `topup`, `snapshot`,
`failover`, `permissions` (IAM actions / GCP roles per remedy), `cli`.
"""
