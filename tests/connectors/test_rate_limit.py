"""Proactive rate limits on outbound platform calls: in process, and shared by replicas through Redis.

Clocks are injected and waits recorded, so nothing here depends on how fast the machine is. The
Redis tests use database 10, which no other test or benchmark uses, and delete their own keys.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.settings import ConfigError
from connectors.graph_api import GraphApiClient, GraphApiError
from connectors.outbox import turn
from connectors.platform_client import send_reply
from connectors.rate_limit import (
    MemoryBuckets,
    Rate,
    RateLimited,
    RateLimiter,
    RateLimits,
    RedisBuckets,
    limiter_from_env,
    parse_rates,
)
from connectors.retry import ReplyDeferred
from connectors.settings import ConnectorSettings

from .conftest import start_graph_stub

REDIS_URL = "redis://127.0.0.1:6379/10"
GRAPH = "https://graph.facebook.com/v21.0"
LOCAL = "http://127.0.0.1:5080/v21.0"
X_API = "https://api.x.com"


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Sleeps:
    """Records waits instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def limits(max_wait: float = 60.0, **rates: str) -> RateLimits:
    env = {f"{kind.upper()}_RATE": value for kind, value in rates.items()}
    return RateLimits.from_env({**env, "RATE_LIMIT_MAX_WAIT": str(max_wait)})


# Settings


@pytest.mark.parametrize(
    ("text", "rates"),
    [
        ("300/1s", (Rate(300, 1),)),
        ("300/s", (Rate(300, 1),)),
        ("200/15m, 1000/24h", (Rate(200, 900), Rate(1000, 86400))),
        ("750/1h", (Rate(750, 3600),)),
        ("2/0.5s", (Rate(2, 0.5),)),
        ("off", ()),
    ],
)
def test_rates_are_read_as_count_per_period(text, rates):
    assert parse_rates(text, "X_SEND_RATE") == rates


@pytest.mark.parametrize("text", ["300", "fast", "0/1s", "10/0s", "10/1w", "10/1s,"])
def test_a_rate_that_cannot_work_names_its_variable(text):
    with pytest.raises(ConfigError, match="X_SEND_RATE"):
        ConnectorSettings.from_env({"X_SEND_RATE": text})


@pytest.mark.parametrize("wait", ["soon", "-1", "601"])
def test_the_longest_wait_is_bounded(wait):
    with pytest.raises(ConfigError, match="RATE_LIMIT_MAX_WAIT"):
        ConnectorSettings.from_env({"RATE_LIMIT_MAX_WAIT": wait})


def test_the_platforms_published_limits_are_the_defaults_on_their_own_hosts():
    defaults = ConnectorSettings.from_env({}).rate_limits
    assert defaults.max_wait == 30.0
    assert defaults.rates("meta_send", GRAPH) == (Rate(300, 1),)
    assert defaults.rates("meta_send", "https://graph.instagram.com/v21.0") == (Rate(300, 1),)
    assert defaults.rates("meta_graph", GRAPH) == (Rate(4800, 86400),)
    assert defaults.rates("x_dm", X_API) == (Rate(200, 900), Rate(1000, 86400))
    assert defaults.rates("x_tweet", "https://api.twitter.com") == (Rate(200, 900), Rate(300, 10800))
    # the simulator and test servers publish no limits: only what the environment sets applies
    assert (
        defaults.rates("meta_send", LOCAL) == () and defaults.rates("x_dm", "http://127.0.0.1:5080/x") == ()
    )
    env = {"META_SEND_RATE": "10/1s", "X_SEND_RATE": "off", "RATE_LIMIT_MAX_WAIT": "5"}
    configured = ConnectorSettings.from_env(env).rate_limits
    assert configured.rates("meta_send", LOCAL) == (Rate(10, 1),) == configured.rates("meta_send", GRAPH)
    assert configured.rates("x_dm", X_API) == () and configured.max_wait == 5.0


# The buckets


async def test_in_process_a_burst_goes_then_calls_wait_their_turn():
    clock, sleeps = Clock(), Sleeps()
    limiter = RateLimiter(limits(meta_send="2/10s", max_wait=10), MemoryBuckets(), clock, sleeps)
    waits = [await limiter.acquire("meta_send", "page", GRAPH) for _ in range(4)]
    assert waits == [0.0, 0.0, 5.0, 10.0]  # the burst, then one token every 5 s, reserved in turn
    assert sleeps.delays == [5.0, 10.0]
    with pytest.raises(RateLimited) as refused:  # 15 s away: more than max_wait, so nothing is taken
        await limiter.acquire("meta_send", "page", GRAPH)
    assert refused.value.wait == pytest.approx(15.0)
    clock.now += 5.0
    assert await limiter.acquire("meta_send", "page", GRAPH) == pytest.approx(10.0)
    assert await limiter.acquire("meta_send", "another page", GRAPH) == 0.0  # budgets are per account


async def test_every_rate_must_have_a_token():
    clock, sleeps = Clock(), Sleeps()
    limiter = RateLimiter(limits(x_send="2/1s,3/100s", max_wait=60), MemoryBuckets(), clock, sleeps)
    assert [await limiter.acquire("x_dm", "brand", X_API) for _ in range(2)] == [0.0, 0.0]
    clock.now += 1.0  # the per-second bucket is full again; the 100-second one has 1.03 tokens
    assert await limiter.acquire("x_dm", "brand", X_API) == 0.0
    # 2 tokens left a second, but the slow bucket needs 0.97 more at 0.03 a second
    assert await limiter.acquire("x_dm", "brand", X_API) == pytest.approx(0.97 / 0.03)


async def test_calls_without_a_limit_never_wait():
    limiter = RateLimiter(RateLimits(), MemoryBuckets(), Clock(), Sleeps())
    assert [await limiter.acquire("meta_send", "page", LOCAL) for _ in range(1000)] == [0.0] * 1000


@pytest.fixture
async def redis_buckets() -> AsyncIterator[tuple[RedisBuckets, RedisBuckets, str]]:
    """Two replicas' stores (two connections) with a prefix of this test's own, removed afterwards."""
    prefix = f"loom:test:ratelimit:{uuid.uuid4().hex}:"
    one, two = RedisBuckets(REDIS_URL, prefix), RedisBuckets(REDIS_URL, prefix)
    yield one, two, prefix
    from redis import asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.close()
    await one.close()
    await two.close()


async def test_two_replicas_share_one_budget_through_redis(redis_buckets):
    one, two, _ = redis_buckets
    clock = Clock()
    setting = limits(meta_send="3/30s", max_wait=25)
    replica_a = RateLimiter(setting, one, clock, Sleeps())
    replica_b = RateLimiter(setting, two, clock, Sleeps())
    assert await replica_a.acquire("meta_send", "page", GRAPH) == 0.0
    assert await replica_b.acquire("meta_send", "page", GRAPH) == 0.0
    assert await replica_a.acquire("meta_send", "page", GRAPH) == 0.0
    # the budget of 3 is spent across both: the next call of either waits for the refill (10 s a token)
    assert await replica_b.acquire("meta_send", "page", GRAPH) == pytest.approx(10.0)
    assert await replica_a.acquire("meta_send", "page", GRAPH) == pytest.approx(20.0)
    with pytest.raises(RateLimited):
        await replica_b.acquire("meta_send", "page", GRAPH)
    assert await replica_b.acquire("meta_send", "another page", GRAPH) == 0.0


async def test_concurrent_calls_of_two_replicas_never_overspend(redis_buckets):
    one, two, _ = redis_buckets
    clock = Clock()
    setting = limits(x_send="5/60s", max_wait=0)  # no waiting: a call either has a token or is refused
    replicas = [RateLimiter(setting, store, clock, Sleeps()) for store in (one, two)]

    async def call(i: int) -> bool:
        try:
            await replicas[i % 2].acquire("x_dm", "brand", X_API)
        except RateLimited:
            return False
        return True

    results = await asyncio.gather(*(call(i) for i in range(40)))
    assert sum(results) == 5


async def test_redis_buckets_use_redis_time_without_a_clock(redis_buckets):
    one, _, prefix = redis_buckets
    limiter = RateLimiter(limits(meta_send="1/1h", max_wait=0), one)  # Redis's clock, real sleep
    assert await limiter.acquire("meta_send", "page", GRAPH) == 0.0
    with pytest.raises(RateLimited) as refused:
        await limiter.acquire("meta_send", "page", GRAPH)
    assert 3500 < refused.value.wait <= 3600
    from redis import asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    assert len(keys) == 1 and 0 < await client.pttl(keys[0]) <= 3600 * 1000  # idle buckets go
    await client.close()


async def test_an_unreachable_redis_lets_calls_through(caplog):
    buckets = RedisBuckets("redis://127.0.0.1:1/10")
    limiter = RateLimiter(limits(meta_send="1/1h", max_wait=0), buckets, Clock(), Sleeps())
    assert await limiter.acquire("meta_send", "page", GRAPH) == 0.0
    assert await limiter.acquire("meta_send", "page", GRAPH) == 0.0
    assert "rate limiter unavailable" in caplog.text
    await buckets.close()


def test_the_process_shares_one_limiter_per_setting():
    env = {"META_SEND_RATE": "5/1s"}
    assert limiter_from_env(env) is limiter_from_env(dict(env))
    assert limiter_from_env({"META_SEND_RATE": "6/1s"}) is not limiter_from_env(env)
    assert isinstance(limiter_from_env({**env, "REDIS_URL": REDIS_URL})._buckets, RedisBuckets)


# Through the Graph API client


class Gate:
    """A sleep that waits for the test to open it, and says when someone is waiting at it."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()
        self.opened = asyncio.Event()
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.waiting.set()
        await self.opened.wait()


@pytest.fixture
async def graph() -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
    received: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"recipient_id": "u", "message_id": f"m{len(received)}"})

    runner, url = await start_graph_stub(handle)
    yield received, url
    await runner.cleanup()


async def test_a_send_over_the_limit_waits_for_its_token_instead_of_failing(graph):
    received, url = graph
    gate = Gate()
    limiter = RateLimiter(limits(meta_send="1/2s", max_wait=10), MemoryBuckets(), Clock(), gate)
    async with aiohttp.ClientSession() as session:

        async def get() -> aiohttp.ClientSession:
            return session

        client = GraphApiClient(url, "page-token", "messenger", get, limiter=limiter)
        assert "page-token" not in client._account()  # buckets are named by a digest, never the token
        assert await client.send_message("u1", {"text": "one"}) == "m1"
        second = asyncio.create_task(client.send_message("u1", {"text": "two"}))
        await gate.waiting.wait()
        assert len(received) == 1 and gate.delays == [2.0]  # held back, not refused
        gate.opened.set()
        assert await second == "m2"
    assert [body["message"]["text"] for body in received] == ["one", "two"]


async def test_a_send_that_would_wait_too_long_is_deferred_without_reaching_meta(graph):
    received, url = graph
    limiter = RateLimiter(limits(meta_send="1/1h", max_wait=5), MemoryBuckets(), Clock(), Sleeps())
    async with aiohttp.ClientSession() as session:

        async def get() -> aiohttp.ClientSession:
            return session

        client = GraphApiClient(url, "page-token", "messenger", get, limiter=limiter)
        await client.send_message("u1", {"text": "one"})
        with pytest.raises(GraphApiError) as refused:
            await client.send_message("u1", {"text": "two"})
        assert refused.value.status == 429 and refused.value.retryable
        assert refused.value.wait == pytest.approx(3600)
        with (
            turn("messenger", "event-1"),
            pytest.raises(ReplyDeferred),
        ):  # a bot reply: the inbox tries it again later
            await send_reply(
                lambda: client.send_message("u1", {"text": "two"}), "messenger", "test", "u1", _Log()
            )
    assert len(received) == 1


class _Log:
    def error(self, *args: Any) -> None:
        raise AssertionError("a deferred reply is not lost")
