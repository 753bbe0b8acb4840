"""Password hashing with scrypt (standard library): slow on purpose, salted, parameters kept with it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1  # about 50 ms and 16 MiB per check: cheap for a sign-in, costly for a guesser
MIN_LENGTH = 10


class WeakPasswordError(ValueError):
    """The password is too short to be worth hashing."""


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$digest`, all that is needed to check it later."""
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"passwords need at least {MIN_LENGTH} characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    encoded = [base64.b64encode(x).decode() for x in (salt, digest)]
    return f"scrypt${N}${R}${P}${encoded[0]}${encoded[1]}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`; constant-time compare, False for malformed hashes."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


DUMMY_HASH = hash_password("not-a-real-password")  # checked for unknown users, so timing reveals nothing
