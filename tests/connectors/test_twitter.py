"""The X channel over real HTTP: CRC, signatures, DMs, mentions, replies (runtime A).

X's API is a recording stub here; the end-to-end tests use the simulator, which checks OAuth 1.0a
signatures and request shapes as X does.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.x_oauth import OAuth1Credentials
from connectors.mentions import MentionStore
from connectors.security import x_signature
from connectors.state import ConnectorState, MemoryStore
from connectors.twitter import TwitterInput, XConfig, cards_as_text, numbered_options
from connectors.x_client import rate_limit_wait

from .conftest import free_port, fresh, sqlite_inbox, start_x_stub

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "twitter"
SECRET = "x-consumer-secret"
BRAND = "1500000000000000001"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PICTURE = "https://pbs.twimg.com/profile_images/1/a_normal.jpg"  # the fixture sender's


@dataclass
class XStub:
    """Records X API calls; `script` gives (status, headers, body) answers in turn."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], dict]] = field(default_factory=list)

    async def dm(self, request: web.Request) -> web.Response:
        self.calls.append(
            {
                "path": request.path,
                "auth": request.headers.get("Authorization", ""),
                "json": await request.json(),
            }
        )
        if self.script:
            status, headers, body = self.script.pop(0)
            return web.json_response(body, status=status, headers=headers)
        return web.json_response(
            {"data": {"dm_conversation_id": "1-2", "dm_event_id": uuid.uuid4().hex}}, status=201
        )

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.calls.append(
            {
                "path": request.path,
                "category": form.get("media_category"),
                "size": len(form["media"].file.read()),
            }
        )
        return web.json_response(
            {"data": {"id": "7140000000000000001", "media_key": "3_7140000000000000001"}}
        )

    async def image(self, request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")


@dataclass
class ServedX:
    channel: TwitterInput
    url: str
    received: list[UserMessage]
    x: XStub
    stub_url: str

    async def post(self, body: Any, signature: str | None = "valid") -> int:
        raw = json.dumps(fresh(body)).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            headers["x-twitter-webhooks-signature"] = x_signature(raw, SECRET)
        elif signature:
            headers["x-twitter-webhooks-signature"] = signature
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.url}/webhook", data=raw, headers=headers) as r,
        ):
            return r.status

    async def settle(self) -> None:
        await self.channel.worker.settle()


@pytest.fixture(scope="module")
def mentions_db(tmp_path_factory) -> str:
    """A SQLite database migrated by the service's own command (runtime B), as `make run` does."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db')}/loom.db"
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "bot"), "db", "upgrade"],
        env={**os.environ, "DATABASE_URL": url},
        check=True,
    )
    return url


@pytest.fixture
async def served(mentions_db) -> AsyncIterator[ServedX]:
    stub = XStub()
    runner, stub_url = await start_x_stub(stub)

    config = XConfig(OAuth1Credentials("ck", SECRET, "at", "ats"), user_id=BRAND, api_url=stub_url)
    channel = TwitterInput(
        config, ConnectorState(MemoryStore()), MentionStore(mentions_db), inbox=sqlite_inbox()
    )
    channel.client.base_delay = channel.client.max_delay = 0.01
    received: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)

    Sanic.test_mode = True
    sanic = Sanic(f"x_{uuid.uuid4().hex[:8]}")
    sanic.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/twitter")
    port = free_port()
    server = await sanic.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    try:
        yield ServedX(channel, f"http://127.0.0.1:{port}/webhooks/twitter", received, stub, stub_url)
    finally:
        await channel.close()
        server.close()
        await server.wait_closed()
        await runner.cleanup()


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


async def test_crc_answer(served):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{served.url}/webhook", params={"crc_token": "challenge-123"}) as response:
            assert response.status == 200
            assert await response.json() == {"response_token": x_signature(b"challenge-123", SECRET)}
        async with session.get(f"{served.url}/webhook") as response:
            assert response.status == 400


@pytest.mark.parametrize("signature", [None, "sha256=AAAA", x_signature(b"other body", SECRET)])
async def test_missing_or_wrong_signature_is_refused(served, signature):
    assert await served.post(fixture("direct_message__text"), signature=signature) == 403
    await served.settle()
    assert served.received == []


async def test_malformed_body_gets_400(served):
    assert await served.post({"direct_message_events": []}) == 400


async def test_dm_reaches_the_assistant_once(served):
    for _ in range(3):
        assert await served.post(fixture("direct_message__text")) == 200
    await served.settle()
    [message] = served.received
    assert (message.text, message.sender_id, message.input_channel) == (
        "hey wheres my order 104523??",
        "3001969357",
        "twitter",
    )
    assert message.metadata["sender_screen_name"] == "jordanbrinks"
    assert message.metadata["sender_picture"] == PICTURE  # from the webhook's `users`, for the desk


@pytest.mark.parametrize(
    "name",
    [
        "direct_message__own_echo",
        "direct_message_indicate_typing__basic",
        "favorite__basic",
        "unknown__new_event_kind",
    ],
)
async def test_events_that_are_not_answered(served, name):
    assert await served.post(fixture(name)) == 200
    await served.settle()
    assert served.received == []


async def test_photo_dm_is_a_photo_needing_an_authorised_fetch(served):
    await served.post(fixture("direct_message__photo"))
    await served.settle()
    [message] = served.received
    assert message.text == "do you have this in black?"
    assert message.metadata["image_urls"][0].startswith("https://ton.twitter.com/")
    assert message.metadata["image_auth"] == "x_oauth1"


async def test_quick_reply_response_and_numbered_options(served):
    await served.post(fixture("direct_message__quick_reply_response"))
    output = served.channel.get_output_channel()
    await output.send_text_with_buttons(
        "3001969357",
        "Cancel it?",
        [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
    )
    await served.post(fixture("direct_message__numbered_option"))
    await served.settle()
    assert [m.text for m in served.received] == ["/affirm", "/deny"]
    sent = served.x.calls[0]["json"]["text"]
    assert "1. Yes\n2. No" in sent
    assert served.x.calls[0]["auth"].startswith("OAuth ") and 'oauth_signature="' in served.x.calls[0]["auth"]


async def test_mentions_are_stored_once_and_our_own_are_not(served, mentions_db):
    for _ in range(2):
        await served.post(fixture("tweet_create__mention"))
    await served.post(fixture("tweet_create__mention_by_ourselves"))
    await served.settle()
    assert served.received == []
    path = mentions_db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT external_id, author_handle, url, posted_at FROM mentions").fetchall()
    assert rows == [
        (
            "1861234567890123456",
            "jordanbrinks",
            "https://x.com/jordanbrinks/status/1861234567890123456",
            "2026-11-25 23:20:00",
        )
    ]


async def test_long_text_cards_and_images(served):
    output = served.channel.get_output_channel()
    await output.send_text_message("42", "word " * 2500)
    await output.send_elements(
        "42",
        [
            {
                "title": "Linen Shirt",
                "subtitle": "£45.00",
                "buttons": [{"title": "View", "url": "https://shop/ls"}],
            }
        ],
    )
    await output.send_image_url("42", f"{served.stub_url}/img.png")
    texts = [c["json"].get("text") for c in served.x.calls if "json" in c]
    assert [len(t) <= 10_000 for t in texts[:2]] == [True, True]
    assert "• Linen Shirt\n  £45.00\n  https://shop/ls" in texts
    upload = next(c for c in served.x.calls if c["path"] == "/2/media/upload")
    assert upload == {"path": "/2/media/upload", "category": "dm_image", "size": len(PNG)}
    assert served.x.calls[-1]["json"] == {"attachments": [{"media_id": "7140000000000000001"}]}


async def test_rate_limit_waits_for_the_reset_then_sends_once(served):
    reset = str(int(time.time()) + 1)
    served.x.script = [
        (
            429,
            {"x-rate-limit-reset": reset, "x-rate-limit-remaining": "0"},
            {"title": "Too Many Requests", "status": 429},
        )
    ]
    started = time.monotonic()
    await served.channel.get_output_channel().send_text_message("42", "hello")
    assert len(served.x.calls) == 2
    assert time.monotonic() - started >= 0.4


async def test_client_errors_are_not_retried(served):
    served.x.script = [(400, {}, {"title": "Invalid Request", "detail": "bad"})]
    await served.channel.get_output_channel().send_text_message("42", "hello")
    assert len(served.x.calls) == 1


def test_rate_limit_wait_is_bounded():
    assert 0.5 <= rate_limit_wait(str(time.time() - 100)) <= 1.0
    assert rate_limit_wait(str(time.time() + 10_000)) == 60.0
    assert 0.5 <= rate_limit_wait(None) <= 1.5


def test_rendering_helpers():
    text, payloads = numbered_options("Pick one", [{"title": "A", "payload": "/a"}, {"title": "B"}])
    assert text == "Pick one\n\n1. A\n2. B\n(reply with a number)" and payloads == ["/a", "B"]
    assert cards_as_text([{"title": "T"}]) == "• T"


def test_missing_credentials_stop_start_up():
    from connectors.meta_input import ConnectorConfigError

    with pytest.raises(ConnectorConfigError, match="X_CONSUMER_SECRET"):
        TwitterInput.from_credentials(
            {"consumer_key": "k", "access_token": "t", "access_token_secret": "s", "user_id": "1"}
        )


async def test_dms_take_a_token_of_our_accounts_budget(served):
    """Each DM attempt waits for the account's `x_dm` token (connectors/rate_limit.py) before it goes."""
    from connectors.rate_limit import RateLimiter, RateLimits, account_key

    taken: list[tuple[str, str, str]] = []

    class Recording(RateLimiter):
        async def acquire(self, kind: str, account: str, api_url: str) -> float:
            taken.append((kind, account, api_url))
            return 0.0

    served.channel.client.limiter = Recording(RateLimits())
    output = served.channel.get_output_channel()
    await output.send_text_message("42", "hello")
    await output.send_image_url("42", f"{served.stub_url}/img.png")
    assert taken == [("x_dm", account_key("twitter", "ck", "at"), served.stub_url)] * 2  # uploads: no token
