"""What happens outside the database because of what the audit log says: mail
about tasks, the webhooks (fan-out and sending) and the signed decision links
in mail. Each reads the sealed log after commit by a cursor of its own, so a
rollback sends nothing and a sent row is never rewritten.

May import the standard library, Django, httpx, `orchestration.audit`,
`orchestration.models`, `orchestration.sweeps` and the small helpers
(`clock`, `limits`, `safe_text`, `accounts`' selectors); not the engine's
runtime or the services (those write the rows these read).
"""
