"""The lease that keeps one monitoring worker active: on Redis, and on PostgreSQL and SQLite without it.

Each check runs on both engines with real servers: exactly one of several workers holds the lease; the
holder renews it; a holder that stops renewing loses it within its TTL to a standby that keeps asking;
a released lease is taken at once; a worker whose lease was taken cannot renew or release it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.monitoring.lease import Lease, RedisLease, SqlLease, holder_id, make_lease
from bot.storage.db import Database

TTL = 0.6  # seconds: short, so expiry is seen in a test
MakeLease = Callable[[str], Awaitable[Lease]]


async def exclusive(make: MakeLease) -> None:
    a, b = await make("a"), await make("b")
    assert await a.hold() and a.held
    assert not await b.hold() and not b.held
    assert await a.hold()  # renewed
    assert not await b.hold()


async def racing(make: MakeLease) -> None:
    workers = [await make(f"w{n}") for n in range(6)]
    won = await asyncio.gather(*(w.hold() for w in workers))
    assert sum(won) == 1, won
    again = await asyncio.gather(*(w.hold() for w in workers))
    assert again == won  # the same worker keeps it; nobody else gets it


async def taken_over_after_expiry(make: MakeLease) -> float:
    """The holder stops renewing (as if killed); how long until a standby asking every 50 ms has it."""
    a, b = await make("a"), await make("b")
    assert await a.hold()
    stopped = time.monotonic()
    while not await b.hold():
        assert time.monotonic() - stopped < TTL + 2, "never taken over"
        await asyncio.sleep(0.05)
    waited = time.monotonic() - stopped
    assert TTL * 0.8 <= waited <= TTL + 0.5, waited
    assert not await a.hold() and not a.held  # the old holder finds it gone and stops working
    await a.release()  # ... and cannot release someone else's lease
    assert await b.hold()
    return waited


async def released_is_taken_at_once(make: MakeLease) -> None:
    a, b = await make("a"), await make("b")
    assert await a.hold()
    await a.release()
    assert not a.held
    started = time.monotonic()
    assert await b.hold()
    assert time.monotonic() - started < TTL / 2
    await a.release()  # a second release (a no longer holds it) changes nothing
    assert await b.hold() and not await a.hold()


CHECKS = [exclusive, racing, taken_over_after_expiry, released_is_taken_at_once]


@pytest.fixture
async def redis_leases(redis_url) -> AsyncIterator[MakeLease]:
    """Leases on the test Redis, under a name of this test's own."""
    name, made = f"test-{uuid.uuid4().hex[:8]}", []

    async def make(who: str) -> Lease:
        lease = RedisLease(redis_url, name, f"{who}-{holder_id()}", TTL)
        made.append(lease)
        return lease

    yield make
    for lease in made:
        await lease.release()
        await lease.close()


@pytest.fixture
async def sql_leases(database_url) -> AsyncIterator[MakeLease]:
    """Leases in the test database, each worker with its own engine (its own connections), as replicas."""
    engines: list[Database] = []

    async def make(who: str) -> Lease:
        engines.append(Database(database_url))
        return SqlLease(engines[-1], "monitoring", f"{who}-{holder_id()}", TTL)

    yield make
    for engine in engines:
        await engine.close()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
async def test_redis_lease(redis_leases, check):
    await check(redis_leases)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
async def test_sql_lease(sql_leases, check):
    await check(sql_leases)


async def test_redis_is_used_when_configured_and_the_database_otherwise(database, redis_url):
    assert isinstance(make_lease(redis_url, database, "monitoring", 15), RedisLease)
    lease = make_lease(None, database, "monitoring", 15)
    assert isinstance(lease, SqlLease) and lease.ttl == 15 and lease.holder


async def test_unreachable_redis_or_database_means_not_holding(tmp_path):
    redis = RedisLease("redis://127.0.0.1:9/0", "monitoring", "me", TTL)
    assert not await redis.hold()
    await redis.close()
    database = Database("postgresql://nobody@127.0.0.1:9/none")
    try:
        assert not await SqlLease(database, "monitoring", "me", TTL).hold()
    finally:
        await database.close()
