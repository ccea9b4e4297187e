"""What makes two API requests "the same request" for an Idempotency-Key: the
method, the path and the body. A JSON body counts by its value, not its
spelling (a client that re-serialises its retry with other spacing or key
order is replaying, not changing its request); any other body by its bytes.
Pure: imports only the standard library.
"""

from __future__ import annotations

import hashlib
import json


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """sha256 over the method, the path and the body's canonical form."""
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):  # not JSON, or too deep to read
        content = b"raw\0" + body
    else:
        canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        content = b"json\0" + canonical.encode("utf-8", "surrogatepass")
    return hashlib.sha256(b"\0".join([method.upper().encode(), path.encode(), content])).hexdigest()
