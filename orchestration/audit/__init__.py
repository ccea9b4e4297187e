"""The audit log: the kinds of its rows, who and where an action came from
(the request context), and the sealed hash chain with its verifier.

May import the standard library, Django, `orchestration.clock`,
`orchestration.sweeps` and `orchestration.models`; nothing of the engine, the
services or the side effects (they write audit rows, the log never calls them).
"""

from orchestration.audit.kinds import AuditKind

__all__ = ["AuditKind"]
