"""The outbox: a re-processed event's bot replies go once, on every store (runtime A).

Each test runs on the in-process store, a SQLite file and the real Redis. A crash is a turn that stops
between two sends, or a task cancelled while the platform holds a request unanswered (the process died
after our "sending" record, before the platform's 200).
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.x_oauth import OAuth1Credentials
from connectors.graph_api import GraphApiClient
from connectors.kv_sqlite import SqliteStore
from connectors.meta_output import MESSENGER, MetaOutputChannel, split_text
from connectors.metrics import value
from connectors.outbox import OUTBOX_TTL, Outbox, current_turn, turn
from connectors.state import ConnectorState, KeyValueStore, MemoryStore, RedisStore
from connectors.twitter import TwitterOutput
from connectors.x_client import XApiClient

from .conftest import Recorder, start_graph_stub, start_x_stub

CUSTOMER = "2401234567890123"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class Watched:
    """A real store that also notes every key written, to show what was (not) recorded."""

    def __init__(self, store: KeyValueStore) -> None:
        self.store = store
        self.written: list[str] = []

    async def add(self, key: str, value: str, ttl: int) -> bool:
        self.written.append(key)
        return await self.store.add(key, value, ttl)

    async def set(self, key: str, value: str, ttl: int) -> None:
        self.written.append(key)
        await self.store.set(key, value, ttl)

    async def get(self, key: str) -> str | None:
        return await self.store.get(key)

    async def delete(self, key: str) -> None:
        await self.store.delete(key)


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request, tmp_path, redis_url) -> AsyncIterator[Watched]:
    if request.param == "memory":
        yield Watched(MemoryStore())
    elif request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "connectors.db")
        yield Watched(sqlite)
        sqlite.close()
    else:
        prefix = f"test:outbox:{uuid.uuid4().hex}:"
        redis = RedisStore(redis_url, prefix=prefix)
        try:
            yield Watched(redis)
        finally:
            keys = [key async for key in redis._redis.scan_iter(f"{prefix}*")]
            if keys:
                await redis._redis.delete(*keys)
            await redis._redis.close()


class FakePlatform:
    """Sends that record their text and answer a fresh id (a re-send would get a new one)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, text: str) -> Callable[[], Awaitable[str]]:
        async def go() -> str:
            self.sent.append(text)
            return f"id-{len(self.sent)}"

        return go


async def run_turn(
    outbox: Outbox, platform: FakePlatform, texts: list[str], inbound: str = "mid.1"
) -> list[str]:
    with turn("messenger", inbound):
        return [await outbox.send_once("messenger", platform.send(text)) for text in texts]


async def record(store: KeyValueStore, key: str) -> Any:
    stored = await store.get(key)
    return json.loads(stored) if stored is not None else None


async def test_a_rerun_sends_nothing_again_and_answers_the_stored_ids(store):
    outbox, platform = Outbox(store), FakePlatform()
    first = await run_turn(outbox, platform, ["a", "b", "c"])
    skipped = value("outbox_skipped", "messenger")
    assert await run_turn(outbox, platform, ["a", "b", "c"]) == first == ["id-1", "id-2", "id-3"]
    assert platform.sent == ["a", "b", "c"]
    assert value("outbox_skipped", "messenger") == skipped + 3
    assert await record(store, "outbox:messenger:mid.1:2") == {"state": "sent", "id": "id-3"}
    assert await run_turn(outbox, platform, ["a"], inbound="mid.2") == ["id-4"]  # another event: sent


async def test_a_turn_that_died_between_sends_sends_only_the_rest(store):
    outbox, platform = Outbox(store), FakePlatform()
    first = await run_turn(outbox, platform, ["a", "b"])  # then the process died
    again = await run_turn(outbox, platform, ["a", "b", "c", "d"])
    assert platform.sent == ["a", "b", "c", "d"]
    assert again == [*first, "id-3", "id-4"]


@pytest.mark.parametrize("left_behind", ['{"state": "sending"}', "not json"])
async def test_a_send_left_sending_is_sent_again_and_counted_uncertain(store, left_behind):
    outbox, platform = Outbox(store), FakePlatform()
    await store.set("outbox:messenger:mid.1:1", left_behind, OUTBOX_TTL)
    await store.set("outbox:messenger:mid.1:0", '{"state": "sent", "id": "id-0"}', OUTBOX_TTL)
    uncertain = value("outbox_uncertain", "messenger")
    assert await run_turn(outbox, platform, ["a", "b", "c"]) == ["id-0", "id-1", "id-2"]
    assert platform.sent == ["b", "c"]
    assert value("outbox_uncertain", "messenger") == uncertain + 1
    assert await record(store, "outbox:messenger:mid.1:1") == {"state": "sent", "id": "id-1"}


async def test_a_send_cancelled_midway_leaves_sending_behind(store):
    outbox, started = Outbox(store), asyncio.Event()

    async def hangs() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    async def dies() -> None:
        with turn("messenger", "mid.1"):
            await outbox.send_once("messenger", hangs)

    task = asyncio.create_task(dies())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await record(store, "outbox:messenger:mid.1:0") == {"state": "sending"}


async def test_a_failed_send_frees_its_position(store):
    outbox, platform = Outbox(store), FakePlatform()

    async def refused() -> str:
        raise RuntimeError("Meta said no, after the retries")

    with turn("messenger", "mid.1"), pytest.raises(RuntimeError, match="said no"):
        await outbox.send_once("messenger", refused)
    assert await store.get("outbox:messenger:mid.1:0") is None
    assert await run_turn(outbox, platform, ["a"]) == ["id-1"]
    assert platform.sent == ["a"]


async def test_outside_a_turn_it_just_sends(store):
    outbox, platform = Outbox(store), FakePlatform()
    assert current_turn() is None
    assert [await outbox.send_once("messenger", platform.send("a")) for _ in range(2)] == ["id-1", "id-2"]
    assert platform.sent == ["a", "a"]
    assert store.written == []


async def test_turns_are_task_local_and_start_at_zero(store):
    outbox, platform = Outbox(store), FakePlatform()

    async def one(inbound: str) -> None:
        with turn("messenger", inbound):
            for text in ("x", "y"):
                await outbox.send_once("messenger", platform.send(f"{inbound}:{text}"))
                await asyncio.sleep(0)  # let the other turn interleave

    await asyncio.gather(one("mid.A"), one("mid.B"))
    assert sorted(store.written) == sorted(
        f"outbox:messenger:{inbound}:{p}" for inbound in ("mid.A", "mid.B") for p in (0, 1) for _ in range(2)
    )
    assert current_turn() is None
    with pytest.raises(ValueError):
        turn("messenger", "").__enter__()


# End to end: Rasa-shaped bot messages through the output channels to a local fake platform.

LONG = " ".join(f"Sentence number {i} of the returns policy." for i in range(130))  # 3 Messenger pieces
IMAGE = "https://shop.example/p.jpg"


def bot_messages(image_url: str) -> list[dict[str, Any]]:
    """One Rasa turn's messages (fresh dicts: `send_response` pops their keys)."""
    return copy.deepcopy(
        [
            {"custom": {"sender_action": "typing_on"}},
            {"text": LONG},
            {"text": "Was this helpful?", "buttons": [{"title": "Yes", "payload": "/affirm"}]},
            {"custom": {"sender_action": "typing_off"}},
            {"image": image_url},
            {"text": "Anything else?"},
        ]
    )


@dataclass
class HoldingGraph:
    """The Send API stub (`Recorder`) that can hold the n-th message unanswered: the crash window."""

    recorder: Recorder = field(default_factory=Recorder)
    hold_at: int | None = None
    refuse_images: int = 0  # answer so many image messages with a final error (Graph code 100)
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def messages(self) -> list[dict[str, Any]]:
        return [body["message"] for body in self.recorder.requests if "message" in body]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.refuse_images and "attachment" in body.get("message", {}):
            self.refuse_images -= 1
            refused = {"message": "Invalid parameter", "type": "OAuthException", "code": 100}
            return web.json_response({"error": refused}, status=400)
        if "message" in body and len(self.messages()) == self.hold_at:
            self.recorder.requests.append(body)
            self.held.set()
            await self.release.wait()  # the client has gone by now; this answer reaches nobody
            return web.json_response({"recipient_id": CUSTOMER, "message_id": "m_unheard"})
        return await self.recorder.handle(request)


@pytest.fixture
async def session() -> AsyncIterator[Callable[[], Awaitable[aiohttp.ClientSession]]]:
    async with aiohttp.ClientSession() as http:

        async def get() -> aiohttp.ClientSession:
            return http

        yield get


@pytest.fixture
async def meta(store, session) -> AsyncIterator[tuple[HoldingGraph, MetaOutputChannel]]:
    graph = HoldingGraph()
    runner, url = await start_graph_stub(graph.handle)
    client = GraphApiClient(url, "page-token", "messenger", session, base_delay=0.01, max_delay=0.01)
    state = ConnectorState(store)
    await state.record_inbound("messenger", CUSTOMER, int(time.time() * 1000))
    try:
        yield graph, MetaOutputChannel(MESSENGER, client, state)
    finally:
        graph.release.set()
        await runner.cleanup()


async def rasa_turn(output: Any, platform: str, inbound: str, messages: list[dict[str, Any]]) -> None:
    """What the inbox consumer does around one event: Rasa sends the turn's messages inside `turn`."""
    with turn(platform, inbound):
        for message in messages:
            await output.send_response(CUSTOMER, message)


async def test_meta_crash_in_the_middle_of_a_long_text(meta, store):
    graph, output = meta
    p0, p1, p2 = split_text(LONG, MESSENGER.text_limit)
    graph.hold_at = 1  # the 2nd piece of the long text: Meta has it, we never hear back
    task = asyncio.create_task(rasa_turn(output, "messenger", "mid.1", bot_messages(IMAGE)))
    await graph.held.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    graph.release.set()
    skipped, uncertain = value("outbox_skipped", "messenger"), value("outbox_uncertain", "messenger")

    await rasa_turn(output, "messenger", "mid.1", bot_messages(IMAGE))

    texts = [m.get("text") or m["attachment"]["type"] for m in graph.messages()]
    # every piece once, except the one whose answer never came: resent, the documented window
    assert texts == [p0, p1, p1, p2, "Was this helpful?", "image", "Anything else?"]
    assert value("outbox_skipped", "messenger") == skipped + 1
    assert value("outbox_uncertain", "messenger") == uncertain + 1
    actions = [b["sender_action"] for b in graph.recorder.requests if "sender_action" in b]
    assert actions == ["typing_on", "typing_on", "typing_off"]  # not outbox business: repeated freely


async def test_meta_rerun_after_a_whole_turn_sends_no_message(meta, store):
    graph, output = meta
    await rasa_turn(output, "messenger", "mid.1", bot_messages(IMAGE))
    sent = graph.messages()
    positions = len(sent)
    assert positions == 6  # 3 pieces, quick replies, image, text; the sender actions took none
    outbox_keys = [key for key in store.written if key.startswith("outbox:")]
    assert outbox_keys == [f"outbox:messenger:mid.1:{p}" for p in range(positions) for _ in ("add", "set")]
    skipped = value("outbox_skipped", "messenger")

    await rasa_turn(output, "messenger", "mid.1", bot_messages(IMAGE))

    assert value("outbox_skipped", "messenger") == skipped + positions
    assert graph.messages() == sent
    stored = [await record(store, f"outbox:messenger:mid.1:{p}") for p in range(positions)]
    assert all(r["state"] == "sent" and r["id"].startswith("m_sent_") for r in stored)
    assert all([await output.state.was_sent_by_us("messenger", r["id"]) for r in stored])


async def test_meta_failed_reply_is_tried_again_by_the_rerun(meta, store):
    graph, output = meta
    graph.refuse_images = 1
    lost = value("replies_lost", "messenger")
    await rasa_turn(output, "messenger", "mid.1", bot_messages(IMAGE))
    assert value("replies_lost", "messenger") == lost + 1
    assert await store.get("outbox:messenger:mid.1:4") is None
    before = len(graph.messages())

    await rasa_turn(output, "messenger", "mid.1", bot_messages(IMAGE))

    assert [m.get("attachment", {}).get("type") for m in graph.messages()[before:]] == ["image"]
    assert (await record(store, "outbox:messenger:mid.1:4"))["state"] == "sent"


async def test_agent_replies_take_no_position_even_inside_a_turn(meta, store):
    _, output = meta
    with turn("messenger", "mid.1"):
        [agent_mid] = await output.send_human_text(CUSTOMER, "Hi, Ada here.")
        await output.send_text_message(CUSTOMER, "bot")
    assert agent_mid.startswith("m_sent_")
    assert [k for k in store.written if k.startswith("outbox:")] == ["outbox:messenger:mid.1:0"] * 2
    assert (await record(store, "outbox:messenger:mid.1:0"))["id"] != agent_mid


@dataclass
class XStub:
    """X's DM and media endpoints; can hold the n-th DM unanswered."""

    dms: list[dict[str, Any]] = field(default_factory=list)
    uploads: int = 0
    hold_at: int | None = None
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def dm(self, request: web.Request) -> web.Response:
        self.dms.append(await request.json())
        if len(self.dms) - 1 == self.hold_at:
            self.held.set()
            await self.release.wait()
        return web.json_response({"data": {"dm_event_id": uuid.uuid4().hex}}, status=201)

    async def upload(self, request: web.Request) -> web.Response:
        await request.post()
        self.uploads += 1
        return web.json_response({"data": {"id": "7140000000000000001"}})

    async def image(self, request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")


async def test_x_crash_after_an_image_dm_resends_neither_the_image_nor_earlier_dms(store, session):
    stub = XStub(hold_at=4)  # long text (2 DMs), options, image, then "Anything else?" is held
    runner, url = await start_x_stub(stub)
    client = XApiClient(
        url, OAuth1Credentials("ck", "cs", "at", "ats"), session, base_delay=0.01, max_delay=0.01
    )
    output = TwitterOutput(client, ConnectorState(store), session)
    messages = [{"text": "word " * 2500}, *bot_messages(f"{url}/img.png")[2:]]
    try:
        task = asyncio.create_task(rasa_turn(output, "twitter", "dm.1", copy.deepcopy(messages)))
        await stub.held.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        stub.release.set()
        skipped, uncertain = value("outbox_skipped", "twitter"), value("outbox_uncertain", "twitter")

        await rasa_turn(output, "twitter", "dm.1", copy.deepcopy(messages))

        starts = [d.get("text", "")[:14] or "image" for d in stub.dms]
        assert starts == [
            "word word word",
            "word word word",
            "Was this helpf",
            "image",
            *["Anything else?"] * 2,
        ]
        assert stub.uploads == 2  # uploading again is harmless; only the DM takes a position
        assert value("outbox_skipped", "twitter") == skipped + 4
        assert value("outbox_uncertain", "twitter") == uncertain + 1
        assert (await record(store, "outbox:twitter:dm.1:4"))["state"] == "sent"
        with turn("twitter", "dm.1"):  # what the desk's agent reply does: no outbox
            await client.send_dm(CUSTOMER, text="Hi, Ada here.")
        assert stub.dms[-1] == {"text": "Hi, Ada here."}
    finally:
        stub.release.set()
        await runner.cleanup()
