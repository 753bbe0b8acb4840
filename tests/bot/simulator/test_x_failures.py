"""Injected failures on the fake X: rate limits with X's headers, server errors, what they match."""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from .conftest import Receiver
from .x_support import PNG_1X1, problem_of, send_dm, twitter_posts, upload_form, wait_for, x_call

CUSTOMER = "3000000042"
DM = f"/x/2/dm_conversations/with/{CUSTOMER}/messages"


async def fail(sim: TestClient, **rule: Any) -> None:
    response = await sim.post("/_sim/fail", json={"platform": "twitter", **rule})
    assert response.status == 200, await response.text()


async def test_429_carries_xs_rate_limit_headers_and_body(sim: TestClient) -> None:
    await fail(sim, status=429, reset_in=30)
    before = time.time()
    response = await x_call(sim, "POST", DM, json={"text": "hi"})
    assert response.status == 429
    assert await response.json() == {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    }
    assert response.headers["x-rate-limit-limit"] == "200"
    assert response.headers["x-rate-limit-remaining"] == "0"
    assert int(before) + 29 <= int(response.headers["x-rate-limit-reset"]) <= int(time.time()) + 31
    assert (await send_dm(sim, CUSTOMER, {"text": "hi"}))[0] == 201


async def test_reset_in_defaults_to_two_seconds(sim: TestClient) -> None:
    await fail(sim, status=429)
    response = await x_call(sim, "POST", DM, json={"text": "hi"})
    assert 1 <= int(response.headers["x-rate-limit-reset"]) - time.time() <= 3


@pytest.mark.parametrize(
    ("status", "title"),
    [
        (500, "Internal Server Error"),
        (502, "Bad Gateway"),
        (503, "Service Unavailable"),
        (504, "Gateway Timeout"),
    ],
)
async def test_server_errors_have_xs_problem_bodies(sim: TestClient, status: int, title: str) -> None:
    await fail(sim, status=status)
    got, answer = await send_dm(sim, CUSTOMER, {"text": "hi"})
    assert got == status
    problem_of(answer, status)
    assert answer["title"] == answer["detail"] == title


async def test_other_statuses_and_a_custom_detail(sim: TestClient) -> None:
    await fail(sim, status=403, message="You cannot send messages to this user.")
    await fail(sim, status=400)
    got, answer = await send_dm(sim, CUSTOMER, {"text": "hi"})
    assert (got, answer["title"], answer["detail"]) == (
        403,
        "Forbidden",
        "You cannot send messages to this user.",
    )
    got, answer = await send_dm(sim, CUSTOMER, {"text": "hi"})
    assert (got, answer["title"]) == (400, "Invalid Request")


async def test_failures_are_recorded_and_not_echoed(sim: TestClient, receiver: Receiver) -> None:
    await fail(sim, status=503, count=2, recipient=CUSTOMER)
    statuses = [(await send_dm(sim, CUSTOMER, {"text": str(i)}))[0] for i in range(3)]
    assert statuses == [503, 503, 201]
    records = await (
        await sim.get("/_sim/sends", params={"platform": "twitter", "recipient": CUSTOMER})
    ).json()
    assert [(r["status"], r["accepted"]) for r in records] == [(503, False), (503, False), (201, True)]
    await wait_for(lambda: len(twitter_posts(receiver)) == 1)
    assert len(twitter_posts(receiver)) == 1


async def test_a_rule_for_another_recipient_or_platform_does_not_match(sim: TestClient) -> None:
    await fail(sim, status=500, recipient="3000000099")
    response = await sim.post("/_sim/fail", json={"platform": "messenger", "status": 500})
    assert response.status == 200
    assert (await send_dm(sim, CUSTOMER, {"text": "hi"}))[0] == 201


async def test_the_oauth_check_comes_before_injected_failures(sim: TestClient) -> None:
    await fail(sim, status=500)
    assert (await send_dm(sim, CUSTOMER, {"text": "hi"}, consumer_key="nope"))[0] == 401
    assert (await send_dm(sim, CUSTOMER, {"text": "hi"}))[0] == 500


async def test_kind_media_upload(sim: TestClient) -> None:
    await fail(sim, status=503, kind="media_upload")
    assert (await send_dm(sim, CUSTOMER, {"text": "hi"}))[0] == 201
    response = await x_call(sim, "POST", "/x/2/media/upload", data=upload_form(PNG_1X1))
    assert response.status == 503
    response = await x_call(sim, "POST", "/x/2/media/upload", data=upload_form(PNG_1X1))
    assert response.status == 200


async def test_a_delay_then_success(sim: TestClient) -> None:
    await fail(sim, delay=0.2)
    started = time.monotonic()
    assert (await send_dm(sim, CUSTOMER, {"text": "hi"}))[0] == 201
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize(
    "rule",
    [{"status": 429, "reset_in": -1}, {"status": 429, "reset_in": "soon"}, {"status": 500, "kind": "typing"}],
)
async def test_bad_rules(sim: TestClient, rule: dict[str, Any]) -> None:
    response = await sim.post("/_sim/fail", json={"platform": "twitter", **rule})
    assert response.status == 400
