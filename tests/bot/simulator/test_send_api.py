"""The fake Send API: tokens, every validation rule, success answers and the record of calls."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from aiohttp.test_utils import TestClient

from .conftest import (
    APP_SECRET,
    IG_ID,
    IG_TOKEN,
    PAGE_ID,
    PAGE_TOKEN,
    graph_error,
    open_window,
    send,
    text_message,
)


async def test_health(sim: TestClient) -> None:
    response = await sim.get("/_sim/health")
    assert response.status == 200
    assert await response.json() == {"ok": True}


# Tokens and paths


@pytest.mark.parametrize("token", [None, "", "wrong-token", PAGE_TOKEN + "x"])
async def test_unknown_or_missing_token_is_oauth_error_190(sim: TestClient, token: str | None) -> None:
    await open_window(sim, "messenger", "u1")
    params = {"access_token": token} if token is not None else {}
    response = await sim.post("/v21.0/me/messages", json=text_message(), params=params)
    assert response.status == 400
    assert "invalid_token" in response.headers["WWW-Authenticate"]
    error = graph_error(await response.json())
    assert (error["code"], error["type"]) == (190, "OAuthException")


async def test_bearer_header_is_accepted(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    response = await sim.post(
        "/v21.0/me/messages", json=text_message(), headers={"Authorization": f"Bearer {PAGE_TOKEN}"}
    )
    assert response.status == 200


async def test_wrong_bearer_header_is_refused(sim: TestClient) -> None:
    response = await sim.post(
        "/v21.0/me/messages", json=text_message(), headers={"Authorization": "Bearer nope"}
    )
    assert response.status == 400
    assert graph_error(await response.json())["code"] == 190


@pytest.mark.parametrize(("token", "platform"), [(PAGE_TOKEN, "messenger"), (IG_TOKEN, "instagram")])
async def test_token_decides_the_platform(sim: TestClient, token: str, platform: str) -> None:
    await open_window(sim, platform, "u1")
    status, _ = await send(sim, text_message(), token=token)
    assert status == 200
    records = await (await sim.get("/_sim/sends")).json()
    assert [r["platform"] for r in records] == [platform]


async def test_window_of_one_platform_does_not_open_the_other(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    status, answer = await send(sim, text_message(), token=IG_TOKEN)
    assert status == 400
    assert graph_error(answer)["code"] == 10


@pytest.mark.parametrize("version", ["v21.0", "v3.2", "v100.10"])
async def test_any_graph_version(sim: TestClient, version: str) -> None:
    await open_window(sim, "messenger", "u1")
    status, _ = await send(sim, text_message(), version=version)
    assert status == 200


@pytest.mark.parametrize("version", ["21.0", "latest", "v21"])
async def test_path_without_a_version_is_not_the_send_api(sim: TestClient, version: str) -> None:
    response = await sim.post(
        f"/{version}/me/messages", json=text_message(), params={"access_token": PAGE_TOKEN}
    )
    assert response.status == 404


@pytest.mark.parametrize(
    ("token", "node", "ok"),
    [
        (PAGE_TOKEN, PAGE_ID, True),
        (PAGE_TOKEN, IG_ID, False),
        (PAGE_TOKEN, "123", False),
        (IG_TOKEN, IG_ID, True),
        (IG_TOKEN, PAGE_ID, True),
    ],
)
async def test_target_node(sim: TestClient, token: str, node: str, ok: bool) -> None:
    platform = "messenger" if token == PAGE_TOKEN else "instagram"
    await open_window(sim, platform, "u1")
    status, answer = await send(sim, text_message(), token=token, node=node)
    if ok:
        assert status == 200
    else:
        assert status == 400
        assert (graph_error(answer)["code"], answer["error"]["error_subcode"]) == (100, 33)


async def test_appsecret_proof_is_checked_when_sent(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    proof = hmac.new(APP_SECRET.encode(), PAGE_TOKEN.encode(), hashlib.sha256).hexdigest()
    good = await sim.post(
        "/v21.0/me/messages",
        json=text_message(),
        params={"access_token": PAGE_TOKEN, "appsecret_proof": proof},
    )
    assert good.status == 200
    bad = await sim.post(
        "/v21.0/me/messages",
        json=text_message(),
        params={"access_token": PAGE_TOKEN, "appsecret_proof": "00"},
    )
    assert bad.status == 400
    assert "appsecret_proof" in graph_error(await bad.json())["message"]


async def test_body_must_be_json(sim: TestClient) -> None:
    response = await sim.post(
        "/v21.0/me/messages", data="recipient={'id':'u1'}", params={"access_token": PAGE_TOKEN}
    )
    assert response.status == 400
    assert graph_error(await response.json())["code"] == 100


# Success answers


async def test_message_ids_are_fresh(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    answers = [(await send(sim, text_message()))[1] for _ in range(3)]
    assert len({a["message_id"] for a in answers}) == 3
    assert all(set(a) == {"recipient_id", "message_id"} for a in answers)


@pytest.mark.parametrize("action", ["typing_on", "typing_off", "mark_seen"])
async def test_sender_action_answers_recipient_only(sim: TestClient, action: str) -> None:
    await open_window(sim, "messenger", "u1")
    status, answer = await send(sim, {"recipient": {"id": "u1"}, "sender_action": action})
    assert (status, answer) == (200, {"recipient_id": "u1"})


async def test_numeric_recipient_id_is_answered_as_string(sim: TestClient) -> None:
    await open_window(sim, "messenger", "123")
    status, answer = await send(sim, text_message(recipient=123))  # type: ignore[arg-type]
    assert (status, answer["recipient_id"]) == (200, "123")


# Recording


async def test_every_call_is_recorded_in_arrival_order(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    await open_window(sim, "instagram", "u2")
    await send(sim, text_message("u1", "first"))
    await send(sim, text_message("u1", "a" * 2001))
    await send(sim, text_message("u2", "third"), token=IG_TOKEN)
    await send(sim, text_message("u1", "fourth"), token="bad")
    records = await (await sim.get("/_sim/sends")).json()
    assert [(r["platform"], r["recipient_id"], r["accepted"], r["status"]) for r in records] == [
        ("messenger", "u1", True, 200),
        ("messenger", "u1", False, 400),
        ("instagram", "u2", True, 200),
        (None, "u1", False, 400),
    ]
    assert records[0]["body"] == text_message("u1", "first")
    assert records[0]["response"]["message_id"].startswith("m_")
    assert records[1]["response"]["error"]["code"] == 100
    assert records[3]["response"]["error"]["code"] == 190
    times = [r["received_at"] for r in records]
    assert times == sorted(times) and all(isinstance(t, float) for t in times)


async def test_records_filter_by_platform_and_recipient(sim: TestClient) -> None:
    await open_window(sim, "messenger", "u1")
    await open_window(sim, "messenger", "u2")
    await open_window(sim, "instagram", "u1")
    await send(sim, text_message("u1", "m1"))
    await send(sim, text_message("u2", "m2"))
    await send(sim, text_message("u1", "i1"), token=IG_TOKEN)

    async def texts(query: str) -> list[str]:
        records = await (await sim.get(f"/_sim/sends?{query}")).json()
        return [r["body"]["message"]["text"] for r in records]

    assert await texts("platform=messenger") == ["m1", "m2"]
    assert await texts("recipient=u1") == ["m1", "i1"]
    assert await texts("platform=instagram&recipient=u1") == ["i1"]
    assert await texts("platform=messenger&recipient=nobody") == []
    assert (await sim.get("/_sim/sends?platform=telegram")).status == 400


async def test_clearing_the_record(sim: TestClient) -> None:
    await send(sim, text_message())
    assert len(await (await sim.get("/_sim/sends")).json()) == 1
    assert (await sim.delete("/_sim/sends")).status == 200
    assert await (await sim.get("/_sim/sends")).json() == []


async def test_non_json_body_is_recorded_as_text(sim: TestClient) -> None:
    await sim.post("/v21.0/me/messages", data=b"not json", params={"access_token": PAGE_TOKEN})
    [record] = await (await sim.get("/_sim/sends")).json()
    assert (record["body"], record["accepted"], record["recipient_id"]) == ("not json", False, None)
