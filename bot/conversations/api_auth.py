"""How our services authenticate to Rasa's HTTP API: short-lived HS256 JWTs, never a `?token=` query.

Rasa runs with `--jwt-secret` (set inside the process by `bot.rasa_server` from `RASA_JWT_SECRET`, so the
secret is on no command line); a caller signs `{"user": {"username": ..., "role": "admin"}, "exp": ...}`
with the same secret and sends it as `Authorization: Bearer <jwt>` (Rasa's `requires_auth` lets the
`admin` role reach every conversation). `RASA_API_TOKEN`, the name of the query-string token this
replaced, is still read as the secret when `RASA_JWT_SECRET` is unset.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

import jwt

RASA_JWT_SECRET_ENV = "RASA_JWT_SECRET"
LEGACY_SECRET_ENV = "RASA_API_TOKEN"
ALGORITHM = "HS256"
TOKEN_SECONDS = 300  # long enough for one call with retries, short enough that a leaked one soon expires


def jwt_secret_from_env(env: Mapping[str, str | None] | None = None) -> str | None:
    """`RASA_JWT_SECRET`, else the older `RASA_API_TOKEN`; None when neither is set."""
    env = os.environ if env is None else env
    return env.get(RASA_JWT_SECRET_ENV) or env.get(LEGACY_SECRET_ENV) or None


def api_token(secret: str, username: str = "desk", seconds: int = TOKEN_SECONDS) -> str:
    """A JWT for Rasa's HTTP API with the admin role, valid for `seconds`."""
    now = int(time.time())
    payload = {"user": {"username": username, "role": "admin"}, "iat": now, "exp": now + seconds}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def api_headers(secret: str | None, username: str = "desk") -> dict[str, str]:
    """`Authorization: Bearer <fresh JWT>`; no header without a secret (Rasa then answers 401)."""
    return {"Authorization": f"Bearer {api_token(secret, username)}"} if secret else {}
