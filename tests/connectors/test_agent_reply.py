"""The desk's agent reply route on every channel: simulator platforms, a real tracker store (runtime A)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.bearer import bearer_matches
from connectors.agent_reply import MAX_TEXT, desk_token_from_env
from connectors.messenger import MessengerInput
from connectors.metrics import value
from connectors.twitter import TwitterInput

from .agent_reply_support import TOKEN, Stack, customer_id, meta_webhook, reply_body, start_stack

META = ["messenger", "instagram"]


@pytest.fixture
async def stack(tmp_path) -> AsyncIterator[Stack]:
    async for running in start_stack(tmp_path):
        yield running


async def conversation(stack: Stack, platform: str, hours_ago: float = 0) -> str:
    """A customer who wrote to us on `platform`; their conversation id."""
    user = customer_id()
    await stack.customer_writes(platform, user, hours_ago)
    assert [m.sender_id for m in stack.received][-1] == user
    return user


# Sending and recording


@pytest.mark.parametrize("platform", META)
async def test_reply_within_24_hours_is_a_response_and_joins_the_transcript(stack, platform):
    user = await conversation(stack, platform)
    body = reply_body(user, client_id="desk-reply-1")
    status, answer, _ = await stack.reply(platform, body)
    assert status == 200, answer
    [sent] = await stack.sends(platform, user)
    assert sent["accepted"]
    assert answer == {"status": "sent", "message_ids": [sent["response"]["message_id"]]}
    assert sent["body"]["messaging_type"] == "RESPONSE" and "tag" not in sent["body"]
    assert sent["body"]["message"] == {"text": body["text"]}
    [turn] = await stack.agent_turns(user)
    assert turn.text == body["text"]
    assert turn.metadata == {
        "author": "agent",
        "agent_id": 3,
        "agent_name": "Ada",
        "client_id": "desk-reply-1",
        "mids": answer["message_ids"],
    }


@pytest.mark.parametrize("platform", META)
async def test_reply_after_24_hours_is_tagged_human_agent(stack, platform):
    user = await conversation(stack, platform, hours_ago=30)
    status, answer, _ = await stack.reply(platform, reply_body(user))
    assert status == 200, answer
    [sent] = await stack.sends(platform, user)
    assert sent["accepted"], sent["response"]  # the simulator enforces Meta's window
    assert (sent["body"]["messaging_type"], sent["body"]["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert len(await stack.agent_turns(user)) == 1


async def test_reply_after_7_days_is_refused_without_calling_meta(stack):
    user = await conversation(stack, "messenger", hours_ago=8 * 24)
    body = reply_body(user)
    status, answer, _ = await stack.reply("messenger", body)
    assert status == 409
    assert answer["error"] == "outside_window" and "7-day" in answer["detail"]
    assert await stack.sends("messenger", user) == []
    assert await stack.agent_turns(user) == []
    # Nothing was sent, so the client id is free: the retry is refused the same way, not "in progress".
    assert (await stack.reply("messenger", body))[1]["error"] == "outside_window"


async def test_meta_refusing_for_its_window_is_409_and_not_retried(stack):
    user = await conversation(stack, "instagram")
    await stack.fail(
        platform="instagram", recipient=user, kind="message", status=400, code=10, error_subcode=2018278
    )
    status, answer, _ = await stack.reply("instagram", reply_body(user))
    assert (status, answer["error"]) == (409, "outside_window")
    assert len(await stack.sends("instagram", user)) == 1


async def test_long_reply_is_split_at_the_platform_limit_and_recorded_whole(stack):
    user = await conversation(stack, "instagram")
    text = " ".join(f"Step {i}: check the label." for i in range(100))  # 2,500+ characters
    status, answer, _ = await stack.reply("instagram", reply_body(user, text))
    assert status == 200
    sends = await stack.sends("instagram", user)
    assert len(sends) == len(answer["message_ids"]) == 3
    assert all(s["accepted"] and len(s["body"]["message"]["text"]) <= 1000 for s in sends)
    [turn] = await stack.agent_turns(user)
    assert turn.text == text and turn.metadata["mids"] == answer["message_ids"]


async def test_x_reply_is_a_dm_and_its_echo_is_dropped(stack):
    user = await conversation(stack, "twitter")
    status, answer, _ = await stack.reply("twitter", reply_body(user, "Hi, Ada here. Let me check."))
    assert status == 200, answer
    [sent] = await stack.sends("twitter", user)
    assert sent["accepted"] and sent["body"] == {"text": "Hi, Ada here. Let me check."}
    assert answer == {"status": "sent", "message_ids": [sent["response"]["data"]["dm_event_id"]]}
    for _ in range(50):  # X echoes our DM to the webhook, as the simulator does, in the background
        echoes = (await stack.sim("GET", "/_sim/x/echoes"))["deliveries"]
        if echoes:
            break
        await asyncio.sleep(0.02)
    assert [(e["status"], e["dm_event_id"]) for e in echoes] == [(200, answer["message_ids"][0])]
    await stack.settle()
    assert [m.sender_id for m in stack.received] == [user]  # the echo did not reach the assistant
    [turn] = await stack.agent_turns(user)
    assert turn.metadata["author"] == "agent" and turn.metadata["mids"] == answer["message_ids"]


async def test_meta_echo_of_an_agent_reply_is_known_as_ours(stack):
    user = await conversation(stack, "messenger")
    _, answer, _ = await stack.reply("messenger", reply_body(user))
    before = value("human_takeovers", "messenger")
    for mid in [answer["message_ids"][0], "m_sent_by_someone_else"]:
        echo = meta_webhook("messenger", user, int(time.time() * 1000))
        item = echo["entry"][0]["messaging"][0]
        item["sender"], item["recipient"] = item["recipient"], item["sender"]
        item["message"] = {"mid": mid, "is_echo": True, "app_id": 263902037430900, "text": "Hi"}
        await stack.sim("POST", "/_sim/webhook", json={"platform": "messenger", "body": echo})
    await stack.settle()
    assert value("human_takeovers", "messenger") == before + 1  # only the other one is a takeover


# Retries, failures and idempotency


async def test_a_repeated_client_id_sends_once_and_answers_the_same(stack):
    user = await conversation(stack, "messenger")
    body = reply_body(user)
    first = await stack.reply("messenger", body)
    second = await stack.reply("messenger", body)
    assert first[:2] == second[:2] and first[0] == 200
    assert len(await stack.sends("messenger", user)) == 1
    assert len(await stack.agent_turns(user)) == 1


async def test_a_retry_while_the_first_is_sending_is_told_to_wait(stack):
    user = await conversation(stack, "messenger")
    await stack.fail(platform="messenger", recipient=user, kind="message", delay=0.5)
    body = reply_body(user)
    first = asyncio.create_task(stack.reply("messenger", body))
    await asyncio.sleep(0.2)
    status, answer, _ = await stack.reply("messenger", body)
    assert (status, answer["error"]) == (409, "in_progress")
    assert (await first)[0] == 200
    assert (await stack.reply("messenger", body))[:2] == (await first)[:2]
    assert len(await stack.sends("messenger", user)) == 1


async def test_a_send_continues_when_the_desk_hangs_up(stack):
    user = await conversation(stack, "messenger")
    await stack.fail(platform="messenger", recipient=user, kind="message", delay=0.4)
    body = reply_body(user)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(stack.reply("messenger", body), timeout=0.1)
    await asyncio.sleep(0.6)
    status, answer, _ = await stack.reply("messenger", body)
    [sent] = await stack.sends("messenger", user)
    assert (status, answer["message_ids"]) == (200, [sent["response"]["message_id"]])
    assert len(await stack.agent_turns(user)) == 1


async def test_a_client_id_reused_for_another_text_is_refused(stack):
    user = await conversation(stack, "messenger")
    body = reply_body(user)
    assert (await stack.reply("messenger", body))[0] == 200
    status, answer, _ = await stack.reply("messenger", {**body, "text": "something else"})
    assert (status, answer["error"]) == (422, "client_id_reused")
    assert len(await stack.sends("messenger", user)) == 1


async def test_server_errors_are_retried_until_meta_accepts(stack):
    user = await conversation(stack, "messenger")
    await stack.fail(platform="messenger", recipient=user, kind="message", status=503, count=2)
    status, answer, _ = await stack.reply("messenger", reply_body(user))
    assert status == 200, answer
    assert [s["accepted"] for s in await stack.sends("messenger", user)] == [False, False, True]
    assert len(await stack.agent_turns(user)) == 1


async def test_a_persistent_platform_error_is_502_and_the_desk_may_retry(stack):
    user = await conversation(stack, "messenger")
    await stack.fail(platform="messenger", recipient=user, kind="message", status=500, count=20)
    body = reply_body(user)
    status, answer, _ = await stack.reply("messenger", body)
    assert status == 502
    assert answer["error"] == "platform_error" and "HTTP 500" in answer["detail"]
    assert answer["message_ids"] == []
    assert len(await stack.sends("messenger", user)) == 4  # the client's attempts
    assert await stack.agent_turns(user) == []
    await stack.sim("DELETE", "/_sim/fail")
    assert (await stack.reply("messenger", body))[0] == 200
    assert [s["accepted"] for s in await stack.sends("messenger", user)] == [False] * 4 + [True]


async def test_x_refusing_a_dm_is_502_at_once(stack):
    user = await conversation(stack, "twitter")
    await stack.fail(platform="twitter", kind="message", status=403, message="You cannot send to this user")
    status, answer, _ = await stack.reply("twitter", reply_body(user))
    assert (status, answer["error"]) == (502, "platform_error")
    assert len(await stack.sends("twitter", user)) == 1  # a 4xx is final on X
    assert await stack.agent_turns(user) == []


async def test_a_reply_that_fails_halfway_reports_and_records_what_went_out(stack):
    user = await conversation(stack, "instagram")
    await stack.fail(platform="instagram", recipient=user, kind="message", delay=0.01)  # part 1 passes
    await stack.fail(platform="instagram", recipient=user, kind="message", status=500, count=20)
    text = " ".join(f"Step {i}: check the label." for i in range(60))  # two parts
    status, answer, _ = await stack.reply("instagram", reply_body(user, text))
    assert status == 502 and "1 of 2 parts sent" in answer["detail"]
    [first_part] = [s for s in await stack.sends("instagram", user) if s["accepted"]]
    assert answer["message_ids"] == [first_part["response"]["message_id"]]
    [turn] = await stack.agent_turns(user)
    assert turn.text == first_part["body"]["message"]["text"] and turn.metadata["partial"] is True


async def test_a_reply_sent_but_not_recorded_is_still_sent_and_counted(stack, monkeypatch):
    user = await conversation(stack, "messenger")
    before = value("agent_replies_unrecorded", "messenger")

    async def broken_save(tracker) -> None:
        raise RuntimeError("tracker store away")

    monkeypatch.setattr(stack.agent.tracker_store, "save", broken_save)
    body = reply_body(user, client_id="desk-unrecorded")
    status, answer, _ = await stack.reply("messenger", body)
    assert status == 200 and answer["status"] == "sent"
    assert value("agent_replies_unrecorded", "messenger") == before + 1
    monkeypatch.undo()
    assert await stack.agent_turns(user) == []
    assert (await stack.reply("messenger", body))[1] == answer  # the retry is answered, not sent again
    assert len(await stack.sends("messenger", user)) == 1


# Refusals before sending


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN, "Bearer", f"Bearer {TOKEN}x"]
)
async def test_a_missing_or_wrong_token_is_401(stack, authorization):
    user = await conversation(stack, "messenger")
    status, answer, headers = await stack.reply("messenger", reply_body(user), authorization=authorization)
    assert (status, answer["error"]) == (401, "unauthorized")
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert await stack.sends("messenger", user) == []


@pytest.mark.parametrize("platform", [*META, "twitter"])
async def test_without_a_configured_token_the_route_is_disabled(stack, platform):
    user = await conversation(stack, platform)
    stack.channels[platform].desk_token = None
    status, answer, _ = await stack.reply(platform, reply_body(user))
    assert status == 503 and answer["detail"] == "agent replies disabled: set DESK_API_TOKEN"
    assert await stack.sends(platform, user) == []


BAD_BODIES = [
    (b"not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[]", "JSON object"),
    (b'{"conversation_id": "1", "client_id": "c", "agent": {"id": 3, "name": "Ada"}}', "text"),
    (b'{"conversation_id": "1", "text": "  ", "client_id": "c", "agent": {"id": 3, "name": "Ada"}}', "text"),
    (b'{"conversation_id": "1", "text": 5, "client_id": "c", "agent": {"id": 3, "name": "Ada"}}', "text"),
    (
        b'{"conversation_id": 1, "text": "hi", "client_id": "c", "agent": {"id": 3, "name": "Ada"}}',
        "conversation_id",
    ),
    (b'{"conversation_id": "1", "text": "hi", "agent": {"id": 3, "name": "Ada"}}', "client_id"),
    (b'{"conversation_id": "1", "text": "hi", "client_id": "c", "agent": 3}', "agent"),
    (
        b'{"conversation_id": "1", "text": "hi", "client_id": "c", "agent": {"id": true, "name": "A"}}',
        "agent.id",
    ),
    (
        b'{"conversation_id": "1", "text": "hi", "client_id": "c", "agent": {"id": 3, "name": ""}}',
        "agent.name",
    ),
]


@pytest.mark.parametrize(("raw", "fragment"), BAD_BODIES)
async def test_bad_bodies_are_400_with_a_reason(stack, raw, fragment):
    status, answer, _ = await stack.reply("messenger", raw=raw)
    assert (status, answer["error"]) == (400, "bad_request")
    assert fragment in answer["detail"]


@pytest.mark.parametrize(("field", "value"), [("client_id", "c" * 65), ("text", "x" * (MAX_TEXT + 1))])
async def test_overlong_fields_are_400(stack, field, value):
    user = await conversation(stack, "messenger")
    status, answer, _ = await stack.reply("messenger", reply_body(user, **{field: value}))
    assert status == 400 and field in answer["detail"]
    assert await stack.sends("messenger", user) == []


async def test_a_conversation_we_never_had_on_this_channel_is_404(stack):
    user = await conversation(stack, "messenger")
    elsewhere = [("messenger", "1000000000000999"), ("instagram", user), ("twitter", user)]
    for platform, conversation_id in elsewhere:
        status, answer, _ = await stack.reply(platform, reply_body(conversation_id))
        assert (status, answer["error"]) == (404, "unknown_conversation"), platform
        assert await stack.sends(platform, conversation_id) == []
    assert "came from messenger" in answer["detail"]


# Configuration


def test_the_token_comes_from_the_environment(monkeypatch):
    assert desk_token_from_env({}) is None and desk_token_from_env({"DESK_API_TOKEN": ""}) is None
    monkeypatch.setenv("DESK_API_TOKEN", "from-env")
    credentials = {"app_secret": "s", "verify_token": "v", "page_access_token": "t"}
    assert MessengerInput.from_credentials(credentials).desk_token == "from-env"
    x = {
        "consumer_key": "k",
        "consumer_secret": "s",
        "access_token": "t",
        "access_token_secret": "u",
        "user_id": "1",
    }
    assert TwitterInput.from_credentials(x).desk_token == "from-env"
    monkeypatch.delenv("DESK_API_TOKEN")
    assert MessengerInput.from_credentials(credentials).desk_token is None


def test_bearer_header_parsing():
    assert bearer_matches("Bearer abc", "abc") and bearer_matches("bearer  abc ", "abc")
    assert not any(bearer_matches(h, "abc") for h in ("Basic abc", "Bearer ", "", None))
