"""Agent reply claims in the connectors' state: in process, on a real Redis, in SQLite (runtime A)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from connectors.kv_sqlite import SqliteStore
from connectors.state import (
    AGENT_REPLY_PENDING_TTL,
    AGENT_REPLY_TTL,
    ConnectorState,
    MemoryStore,
    RedisStore,
)


@asynccontextmanager
async def on_redis(url: str) -> AsyncIterator[ConnectorState]:
    """State in a private key space of the test Redis, removed afterwards."""
    prefix = f"test:{uuid.uuid4().hex}:"
    store = RedisStore(url, prefix=prefix)
    try:
        yield ConnectorState(store)
    finally:
        keys = [key async for key in store._redis.scan_iter(f"{prefix}*")]
        if keys:
            await store._redis.delete(*keys)
        await store._redis.close()


@pytest.fixture(params=["memory", "redis", "sqlite"])
async def state(request, redis_url, tmp_path) -> AsyncIterator[ConnectorState]:
    if request.param == "memory":
        yield ConnectorState(MemoryStore())
    elif request.param == "sqlite":  # the default without REDIS_URL
        store = SqliteStore(tmp_path / "connectors.db")
        yield ConnectorState(store)
        store.close()
    else:
        async with on_redis(redis_url) as on:
            yield on


async def test_a_client_id_is_claimed_once_then_holds_the_answer(state):
    assert await state.claim_agent_reply("messenger", "c1", "fp") is None
    assert await state.claim_agent_reply("messenger", "c1", "fp") == {"state": "pending", "fingerprint": "fp"}
    assert await state.claim_agent_reply("instagram", "c1", "fp") is None  # per channel
    await state.finish_agent_reply("messenger", "c1", "fp", {"status": "sent", "message_ids": ["m1"]})
    assert await state.claim_agent_reply("messenger", "c1", "fp") == {
        "state": "sent",
        "fingerprint": "fp",
        "response": {"status": "sent", "message_ids": ["m1"]},
    }


async def test_a_released_claim_can_be_taken_again(state):
    assert await state.claim_agent_reply("twitter", "c2", "fp") is None
    await state.release_agent_reply("twitter", "c2")
    assert await state.claim_agent_reply("twitter", "c2", "fp") is None
    await state.release_agent_reply("twitter", "never-claimed")  # no error


async def test_concurrent_claims_have_one_winner(state):
    claims = await asyncio.gather(*(state.claim_agent_reply("messenger", "c3", "fp") for _ in range(20)))
    assert claims.count(None) == 1


async def test_pending_claims_expire_soon_and_answers_after_a_day(redis_url):
    async with on_redis(redis_url) as state:
        store: RedisStore = state.store  # type: ignore[assignment]
        key = f"{store._prefix}agent_reply:messenger:c4"
        await state.claim_agent_reply("messenger", "c4", "fp")
        assert 0 < await store._redis.ttl(key) <= AGENT_REPLY_PENDING_TTL
        await state.finish_agent_reply("messenger", "c4", "fp", {"status": "sent", "message_ids": []})
        assert AGENT_REPLY_PENDING_TTL < await store._redis.ttl(key) <= AGENT_REPLY_TTL
