"""Shared secrets on internal HTTP endpoints: `Authorization: Bearer <secret>`, compared in constant time.

Used by the REST channel (runtime A), the action server and every `/metrics` (both runtimes): stdlib only.
A missing secret never matches anything, so an endpoint whose secret is not configured stays closed.
"""

from __future__ import annotations

import hmac


def bearer_matches(header: str | None, secret: str | None) -> bool:
    """Whether an Authorization header carries `Bearer <secret>`; always False without a secret."""
    if not secret:
        return False
    scheme, _, sent = (header or "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), secret.encode())
