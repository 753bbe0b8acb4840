"""A lease that lets exactly one monitoring worker run, however many replicas are started.

The holder renews it well before it expires; a replica that stops renewing (it died, froze or lost its
connection) loses it once `ttl` passes, and a standby that keeps asking takes it over then. Release
(on SIGTERM) hands it over at once.

- With Redis: one key, `SET key holder NX PX ttl` to take it, renewed and released by Lua scripts that
  compare the holder first, so a worker never extends or deletes a lease someone else took.
- Without Redis: one row of `service_leases` in the SQL database, taken by a conditional UPDATE
  (`holder = me OR expires_at < now`): PostgreSQL re-checks the condition on the locked row and SQLite
  serialises writers, so only one replica's UPDATE matches. Expiry is judged by the replicas' clocks,
  which must agree to well within the TTL (NTP does).

A worker that cannot reach Redis or the database counts as not holding the lease: it stops working
rather than risk running beside a replica that took over meanwhile.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
from typing import Any, Protocol

from sqlalchemy import or_, update

from bot.monitoring.sql import insert_ignore
from bot.storage.db import Database
from bot.storage.models import ServiceLease, utcnow

logger = logging.getLogger(__name__)
REDIS_PREFIX = "loom:lease:"
EXPIRED = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
# KEYS[1] the lease, ARGV[1] the holder, ARGV[2] the TTL in ms: act only if the holder still has it.
RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def holder_id() -> str:
    """An id for this process, unique among replicas and restarts: host, pid and a random part."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{secrets.token_hex(4)}"


class Lease(Protocol):
    """Take, keep and give back a named lease."""

    name: str
    holder: str
    ttl: float
    held: bool

    async def hold(self) -> bool:
        """Take the lease, or renew it if this worker has it; whether it holds it now."""
        ...

    async def release(self) -> None:
        """Give the lease up (if this worker holds it), so a standby may take it at once."""
        ...

    async def close(self) -> None:
        """Close connections."""
        ...


class RedisLease:
    """The lease as a Redis key holding the holder's id, with a TTL."""

    def __init__(self, redis_url: str, name: str, holder: str, ttl: float) -> None:
        self.name, self.holder, self.ttl = name, holder, ttl
        self.key = f"{REDIS_PREFIX}{name}"
        self.held = False
        self._url = redis_url
        self._redis: Any = None

    def _client(self) -> Any:
        if self._redis is None:
            from redis import asyncio as aioredis

            timeout = max(0.5, self.ttl / 5)
            self._redis = aioredis.from_url(
                self._url, decode_responses=True, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        return self._redis

    async def hold(self) -> bool:
        """Take the lease, or renew it if this worker has it; whether it holds it now."""
        redis, ms = self._client(), int(self.ttl * 1000)
        try:
            if self.held and await redis.eval(RENEW, 1, self.key, self.holder, ms) == 1:
                return True
            self.held = bool(await redis.set(self.key, self.holder, nx=True, px=ms))
        except Exception as err:  # Redis away: not sure we still hold it, so we do not
            logger.warning("lease %s: Redis did not answer (%s); not holding it", self.name, err)
            self.held = False
        return self.held

    async def release(self) -> None:
        """Give the lease up (if this worker holds it), so a standby may take it at once."""
        if not self.held:
            return
        self.held = False
        try:
            await self._client().eval(RELEASE, 1, self.key, self.holder)
        except Exception as err:  # it expires by itself
            logger.warning("lease %s not released (%s): it expires within %s s", self.name, err, self.ttl)

    async def close(self) -> None:
        """Close the Redis connections."""
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


class SqlLease:
    """The lease as a row of `service_leases`."""

    def __init__(self, database: Database, name: str, holder: str, ttl: float) -> None:
        self.name, self.holder, self.ttl = name, holder, ttl
        self.held = False
        self._db = database

    async def hold(self) -> bool:
        """Take the lease, or renew it if this worker has it; whether it holds it now."""
        now = utcnow()
        try:
            async with self._db.sessions() as session, session.begin():
                await session.execute(
                    insert_ignore(session, ServiceLease.__table__, ["name"]).values(
                        name=self.name, holder="", expires_at=EXPIRED
                    )
                )
                taken = await session.execute(
                    update(ServiceLease)
                    .where(
                        ServiceLease.name == self.name,
                        or_(ServiceLease.holder == self.holder, ServiceLease.expires_at < now),
                    )
                    .values(holder=self.holder, expires_at=now + dt.timedelta(seconds=self.ttl))
                )
            self.held = taken.rowcount == 1
        except Exception as err:  # the database away: not sure we still hold it, so we do not
            logger.warning("lease %s: the database did not answer (%s); not holding it", self.name, err)
            self.held = False
        return self.held

    async def release(self) -> None:
        """Give the lease up (if this worker holds it), so a standby may take it at once."""
        if not self.held:
            return
        self.held = False
        try:
            async with self._db.sessions() as session, session.begin():
                await session.execute(
                    update(ServiceLease)
                    .where(ServiceLease.name == self.name, ServiceLease.holder == self.holder)
                    .values(holder="", expires_at=EXPIRED)
                )
        except Exception as err:
            logger.warning("lease %s not released (%s): it expires within %s s", self.name, err, self.ttl)

    async def close(self) -> None:
        """Nothing to close: the database is the service's, closed by it."""


def make_lease(redis_url: str | None, database: Database, name: str, ttl: float, holder: str = "") -> Lease:
    """A Redis lease when REDIS_URL is set, else a row in the SQL database."""
    holder = holder or holder_id()
    if redis_url:
        return RedisLease(redis_url, name, holder, ttl)
    return SqlLease(database, name, holder, ttl)
