"""Password hashing with scrypt (standard library): slow on purpose, salted, parameters kept with it.

Parameters follow OWASP's Password Storage Cheat Sheet minimum for scrypt (N=2^17, r=8, p=1: 128 MiB
and about 0.4 s per check on one core here). A hash made with older, weaker parameters is still checked
at the parameters stored with it, and `needs_rehash` tells the caller to store a new one after a
successful sign-in. Hashing is CPU-bound: async callers run it in a worker thread, never on the event
loop and never inside an open database transaction.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

MIN_LENGTH = 10
MAX_N = 2**20  # a stored hash asking for more than this is malformed, not a reason to use 1 GiB


class WeakPasswordError(ValueError):
    """The password is too short to be worth hashing."""


@dataclass(frozen=True)
class Cost:
    """scrypt's work factors."""

    n: int
    r: int
    p: int

    @property
    def maxmem(self) -> int:
        """Memory OpenSSL may use: scrypt needs about 128*N*r*p bytes; OpenSSL's default cap is 32 MiB."""
        return 128 * self.n * self.r * self.p + 16 * 1024 * 1024

    def __ge__(self, other: Cost) -> bool:
        return self.n >= other.n and self.r >= other.r and self.p >= other.p


CURRENT = Cost(n=2**17, r=8, p=1)  # OWASP's minimum for scrypt


def _scrypt(password: str, salt: bytes, cost: Cost, length: int = 32) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=cost.n, r=cost.r, p=cost.p, maxmem=cost.maxmem, dklen=length
    )


def hash_password(password: str, cost: Cost | None = None) -> str:
    """`scrypt$n$r$p$salt$digest`, all that is needed to check it later."""
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"passwords need at least {MIN_LENGTH} characters")
    cost = cost or CURRENT
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, cost)
    encoded = [base64.b64encode(x).decode() for x in (salt, digest)]
    return f"scrypt${cost.n}${cost.r}${cost.p}${encoded[0]}${encoded[1]}"


def stored_cost(stored: str) -> Cost | None:
    """The parameters a hash was made with, or None when it is not one of ours."""
    try:
        scheme, n, r, p, _, _ = stored.split("$")
        cost = Cost(int(n), int(r), int(p))
    except (ValueError, AttributeError):
        return None
    if scheme != "scrypt" or not (1 < cost.n <= MAX_N and 0 < cost.r <= 32 and 0 < cost.p <= 16):
        return None
    return cost


def needs_rehash(stored: str) -> bool:
    """Whether a hash is weaker than today's parameters (re-hash it when the password is known)."""
    cost = stored_cost(stored)
    return cost is None or not cost >= CURRENT


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`, at the parameters stored with it; False for malformed hashes."""
    cost = stored_cost(stored)
    if cost is None:
        return False
    try:
        _, _, _, _, salt, digest = stored.split("$")
        expected = base64.b64decode(digest, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), cost, len(expected) or 32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _dummy(cost: Cost) -> str:
    return hash_password(secrets.token_urlsafe(16), cost)


def dummy_hash() -> str:
    """A hash checked for unknown users, so they cost the same time as real ones (made on first use)."""
    return _dummy(CURRENT)
