"""Injected failures (status, count, recipient, delay) and Meta's 24-hour and 7-day messaging windows."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from .conftest import IG_TOKEN, PAGE_ID, Receiver, open_window, send, text_message

HOUR = 3600.0
DAY = 24 * HOUR


async def fail(sim: TestClient, **rule: Any) -> None:
    response = await sim.post("/_sim/fail", json=rule)
    assert response.status == 200, await response.text()


# Failure injection


@pytest.mark.parametrize(
    ("status", "code", "fragment"),
    [
        (429, 613, "rate limit"),
        (500, 1200, "Temporary send message failure"),
        (502, 2, "unexpected error"),
        (503, 2, "temporarily unavailable"),
        (418, 1, "unknown error"),
    ],
)
async def test_injected_status_gives_metas_error(
    sim: TestClient, status: int, code: int, fragment: str
) -> None:
    await open_window(sim, "messenger", "u1")
    await fail(sim, status=status)
    got, answer = await send(sim, text_message())
    assert got == status
    assert answer["error"]["code"] == code
    assert fragment in answer["error"]["message"]
    assert answer["error"]["fbtrace_id"]


async def test_temporary_errors_are_marked_transient(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    await fail(sim, status=503)
    _, answer = await send(sim, text_message())
    assert answer["error"]["is_transient"] is True


async def test_count_then_back_to_normal(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    await fail(sim, status=500, count=2)
    statuses = [(await send(sim, text_message()))[0] for _ in range(3)]
    assert statuses == [500, 500, 200]


async def test_injected_failures_are_recorded(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    await fail(sim, status=429)
    await send(sim, text_message())
    [record] = await (await sim.get("/_sim/sends")).json()
    assert (record["accepted"], record["status"], record["response"]["error"]["code"]) == (False, 429, 613)


async def test_failure_for_one_recipient_spares_others(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    await open_window(sim, "messenger", "u2")
    await fail(sim, status=503, recipient="u2")
    assert (await send(sim, text_message("u1")))[0] == 200
    assert (await send(sim, text_message("u2")))[0] == 503
    assert (await send(sim, text_message("u2")))[0] == 200


async def test_failure_for_one_platform_spares_the_other(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    await open_window(sim, "instagram", "u1")
    await fail(sim, status=500, platform="instagram")
    assert (await send(sim, text_message()))[0] == 200
    assert (await send(sim, text_message(), token=IG_TOKEN))[0] == 500


async def test_failure_for_messages_spares_sender_actions(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    await fail(sim, status=500, count=2, kind="message")
    typing = {"recipient": {"id": "u1"}, "sender_action": "typing_on"}
    assert (await send(sim, typing))[0] == 200
    assert [(await send(sim, text_message()))[0] for _ in range(3)] == [500, 500, 200]


async def test_failure_for_sender_actions_spares_messages(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    await fail(sim, status=503, kind="sender_action")
    assert (await send(sim, text_message()))[0] == 200
    assert (await send(sim, {"recipient": {"id": "u1"}, "sender_action": "mark_seen"}))[0] == 503


async def test_code_and_message_can_be_overridden(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    await fail(
        sim, status=400, code=551, error_subcode=1545041, message="This person isn't available right now."
    )
    status, answer = await send(sim, text_message())
    assert status == 400
    error = answer["error"]
    assert (error["code"], error["error_subcode"], error["message"]) == (
        551,
        1545041,
        "This person isn't available right now.",
    )


async def test_clearing_failures(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    await fail(sim, status=500, count=5)
    assert (await sim.delete("/_sim/fail")).status == 200
    assert (await send(sim, text_message()))[0] == 200


async def test_bad_token_is_refused_before_injected_failures(sim: TestClient) -> None:
    await fail(sim, status=500)
    status, answer = await send(sim, text_message(), token="bad")
    assert (status, answer["error"]["code"]) == (400, 190)


async def test_delay_then_failure(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    await fail(sim, status=502, delay=0.3)
    started = time.monotonic()
    status, _ = await send(sim, text_message())
    assert status == 502
    assert time.monotonic() - started >= 0.3


async def test_delay_alone_answers_normally_later(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    await fail(sim, delay=0.3)
    started = time.monotonic()
    status, answer = await send(sim, text_message())
    assert status == 200 and answer["message_id"].startswith("m_")
    assert time.monotonic() - started >= 0.3


async def test_delay_makes_a_client_time_out(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    await fail(sim, status=500, delay=1.0)
    with pytest.raises(asyncio.TimeoutError):
        await sim.post(
            "/v21.0/me/messages",
            json=text_message(),
            params={"access_token": "test-page-token"},
            timeout=aiohttp.ClientTimeout(total=0.2),
        )
    # The rule was used up by the timed-out call: the next one goes through at once.
    started = time.monotonic()
    assert (await send(sim, text_message()))[0] == 200
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    "rule",
    [
        {},
        {"status": 200},
        {"status": "500"},
        {"status": 500, "count": 0},
        {"status": 500, "delay": -1},
        {"status": 500, "delay": 1000},
        {"status": 500, "platform": "telegram"},
        {"status": 500, "recipient": 5},
        {"status": 500, "code": "613"},
        {"status": 500, "kind": "typing"},
    ],
)
async def test_bad_failure_rules_are_refused(sim: TestClient, rule: dict[str, Any]) -> None:
    response = await sim.post("/_sim/fail", json=rule)
    assert response.status == 400
    assert "error" in await response.json()


# Messaging window


async def test_no_inbound_message_means_no_window(sim: TestClient) -> None:
    status, answer = await send(sim, text_message("stranger"))
    assert status == 400
    error = answer["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (10, 2018278, "OAuthException")
    assert "outside of allowed window" in error["message"]
    [record] = await (await sim.get("/_sim/sends")).json()
    assert record["accepted"] is False


@pytest.mark.parametrize(
    ("messaging_type", "tag", "ago", "allowed"),
    [
        ("RESPONSE", None, 23 * HOUR, True),
        ("RESPONSE", None, 25 * HOUR, False),
        ("UPDATE", None, 23 * HOUR, True),
        ("UPDATE", None, 25 * HOUR, False),
        ("MESSAGE_TAG", "HUMAN_AGENT", 25 * HOUR, True),
        ("MESSAGE_TAG", "HUMAN_AGENT", 6.9 * DAY, True),
        ("MESSAGE_TAG", "HUMAN_AGENT", 7.1 * DAY, False),
        ("MESSAGE_TAG", "ACCOUNT_UPDATE", 30 * DAY, True),
    ],
)
async def test_window_rules(
    sim: TestClient, messaging_type: str, tag: str | None, ago: float, allowed: bool
) -> None:
    await open_window(sim, "messenger", "u1", ago=ago)
    body = text_message(messaging_type=messaging_type)
    if tag is not None:
        body["tag"] = tag
    status, answer = await send(sim, body)
    if allowed:
        assert status == 200, answer
    else:
        assert (status, answer["error"]["code"], answer["error"]["error_subcode"]) == (400, 10, 2018278)


async def test_sender_actions_need_no_window(sim: TestClient) -> None:
    status, _ = await send(sim, {"recipient": {"id": "stranger"}, "sender_action": "typing_on"})
    assert status == 200


async def test_customer_message_opens_the_window(sim: TestClient, receiver: Receiver) -> None:
    assert (await send(sim, text_message("u9")))[0] == 400
    response = await sim.post(
        "/_sim/customer_message", json={"platform": "messenger", "user_id": "u9", "text": "hi"}
    )
    assert response.status == 200
    assert (await send(sim, text_message("u9")))[0] == 200


async def test_window_opens_even_if_our_webhook_fails(sim: TestClient, receiver: Receiver) -> None:
    receiver.status = 500
    await sim.post("/_sim/customer_message", json={"platform": "messenger", "user_id": "u9", "text": "hi"})
    assert (await send(sim, text_message("u9")))[0] == 200


def raw_event(sender: str, **message: Any) -> dict[str, Any]:
    item = {
        "sender": {"id": sender},
        "recipient": {"id": PAGE_ID},
        "timestamp": 1,
        "message": {"mid": "m_1", **message},
    }
    return {"object": "page", "entry": [{"id": PAGE_ID, "time": 1, "messaging": [item]}]}


async def test_raw_webhook_with_a_customer_message_opens_the_window(
    sim: TestClient, receiver: Receiver
) -> None:
    await sim.post("/_sim/webhook", json={"platform": "messenger", "body": raw_event("u7", text="hi")})
    assert (await send(sim, text_message("u7")))[0] == 200


async def test_raw_webhook_with_an_echo_does_not(sim: TestClient, receiver: Receiver) -> None:
    await sim.post(
        "/_sim/webhook", json={"platform": "messenger", "body": raw_event("u7", text="hi", is_echo=True)}
    )
    assert (await send(sim, text_message("u7")))[0] == 400


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "messenger", "user_id": "u1"},
        {"platform": "sms", "user_id": "u1", "timestamp": 1},
        {"platform": "messenger", "user_id": "", "timestamp": 1},
        {"platform": "messenger", "user_id": "u1", "timestamp": "yesterday"},
    ],
)
async def test_bad_inbound_time_requests(sim: TestClient, body: dict[str, Any]) -> None:
    assert (await sim.post("/_sim/inbound_time", json=body)).status == 400
