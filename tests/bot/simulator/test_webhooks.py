"""Webhooks as Meta sends them: signing over the raw body, exact batches, customer-message shapes."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from bot.simulator.app import create_app

from .conftest import APP_SECRET, IG_ID, PAGE_ID, Captured, Receiver, make_config


def sha256_of(raw: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def sha1_of(raw: bytes, secret: str = APP_SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()


async def customer(sim: TestClient, **description: Any) -> dict[str, Any]:
    response = await sim.post("/_sim/customer_message", json=description)
    assert response.status == 200, await response.text()
    return await response.json()


def only(receiver: Receiver) -> Captured:
    assert len(receiver.requests) == 1
    return receiver.requests[0]


# Signing and exact delivery

BATCH = {
    "object": "page",
    "entry": [
        {
            "id": PAGE_ID,
            "time": 1700000000000,
            "messaging": [
                {
                    "sender": {"id": "u1"},
                    "recipient": {"id": PAGE_ID},
                    "timestamp": 1,
                    "message": {"mid": "m_a", "text": "où est ma commande? 🙂 https://x.example/a"},
                },
                {
                    "sender": {"id": "u2"},
                    "recipient": {"id": PAGE_ID},
                    "timestamp": 2,
                    "message": {"mid": "m_b", "text": "hi"},
                },
            ],
        }
    ],
}


async def test_webhook_is_signed_over_the_raw_body(sim: TestClient, receiver: Receiver) -> None:
    response = await sim.post("/_sim/webhook", json={"platform": "messenger", "body": BATCH})
    assert response.status == 200
    assert await response.json() == {"status": 200, "body": "EVENT_RECEIVED"}
    got = only(receiver)
    assert got.path == "/webhooks/messenger/webhook"
    assert got.headers["Content-Type"] == "application/json"
    assert hmac.compare_digest(got.headers["X-Hub-Signature-256"], sha256_of(got.raw))
    assert hmac.compare_digest(got.headers["X-Hub-Signature"], sha1_of(got.raw))
    assert json.loads(got.raw) == BATCH


async def test_body_is_escaped_like_meta_so_reserialising_breaks_the_signature(
    sim: TestClient, receiver: Receiver
) -> None:
    await sim.post("/_sim/webhook", json={"platform": "messenger", "body": BATCH})
    got = only(receiver)
    assert b"\\u00f9" in got.raw and b"\\/" in got.raw and b" " not in got.raw.split(b'"text"')[0]
    reserialised = json.dumps(json.loads(got.raw), ensure_ascii=False).encode()
    assert sha256_of(reserialised) != got.headers["X-Hub-Signature-256"]


async def test_instagram_webhooks_go_to_the_instagram_endpoint(sim: TestClient, receiver: Receiver) -> None:
    await sim.post(
        "/_sim/webhook", json={"platform": "instagram", "body": {"object": "instagram", "entry": []}}
    )
    assert only(receiver).path == "/webhooks/instagram/webhook"


async def test_raw_text_is_sent_byte_for_byte(sim: TestClient, receiver: Receiver) -> None:
    raw = '{"object": "page",   "entry": []}\n'
    await sim.post("/_sim/webhook", json={"platform": "messenger", "raw": raw})
    got = only(receiver)
    assert got.raw == raw.encode()
    assert got.headers["X-Hub-Signature-256"] == sha256_of(raw.encode())


async def test_invalid_signature_mode(sim: TestClient, receiver: Receiver) -> None:
    await sim.post("/_sim/webhook", json={"platform": "messenger", "body": BATCH, "sign": "invalid"})
    got = only(receiver)
    assert got.headers["X-Hub-Signature-256"].startswith("sha256=")
    assert got.headers["X-Hub-Signature-256"] != sha256_of(got.raw)


async def test_unsigned_mode(sim: TestClient, receiver: Receiver) -> None:
    await sim.post("/_sim/webhook", json={"platform": "messenger", "body": BATCH, "sign": "none"})
    got = only(receiver)
    assert "X-Hub-Signature-256" not in got.headers and "X-Hub-Signature" not in got.headers


async def test_our_error_status_and_text_are_reported(sim: TestClient, receiver: Receiver) -> None:
    receiver.status, receiver.text = 403, "bad signature"
    response = await sim.post("/_sim/webhook", json={"platform": "messenger", "body": BATCH})
    assert await response.json() == {"status": 403, "body": "bad signature"}


async def test_unreachable_connector_is_a_502_with_the_reason() -> None:
    client = TestClient(TestServer(create_app(make_config("http://127.0.0.1:9/webhooks"))))
    await client.start_server()
    try:
        response = await client.post(
            "/_sim/customer_message", json={"platform": "messenger", "user_id": "u1", "text": "hi"}
        )
        assert response.status == 502
        answer = await response.json()
        assert answer["status"] is None and "could not deliver" in answer["error"]
    finally:
        await client.close()


@pytest.mark.parametrize(
    "body",
    [
        {"body": BATCH},
        {"platform": "whatsapp", "body": BATCH},
        {"platform": "messenger"},
        {"platform": "messenger", "body": BATCH, "sign": "sometimes"},
    ],
)
async def test_bad_webhook_requests(sim: TestClient, receiver: Receiver, body: dict[str, Any]) -> None:
    assert (await sim.post("/_sim/webhook", json=body)).status == 400
    assert receiver.requests == []


# Customer messages


async def test_messenger_text_message_shape(sim: TestClient, receiver: Receiver) -> None:
    answer = await customer(sim, platform="messenger", user_id="u1", text="where is my order?")
    sent = json.loads(only(receiver).raw)
    assert answer["webhook"] == sent
    assert (answer["status"], answer["body"]) == (200, "EVENT_RECEIVED")
    assert sent["object"] == "page"
    [entry] = sent["entry"]
    assert entry["id"] == PAGE_ID and isinstance(entry["time"], int) and entry["time"] > 1_600_000_000_000
    [event] = entry["messaging"]
    assert event["sender"] == {"id": "u1"} and event["recipient"] == {"id": PAGE_ID}
    assert event["timestamp"] == entry["time"]
    assert event["message"] == {"mid": answer["mid"], "text": "where is my order?"}
    assert answer["mid"].startswith("m_")
    assert only(receiver).headers["X-Hub-Signature-256"] == sha256_of(only(receiver).raw)


async def test_instagram_text_message_shape(sim: TestClient, receiver: Receiver) -> None:
    answer = await customer(sim, platform="instagram", user_id="ig-1", text="hey")
    got = only(receiver)
    sent = json.loads(got.raw)
    assert got.path == "/webhooks/instagram/webhook"
    assert sent["object"] == "instagram"
    [entry] = sent["entry"]
    assert entry["id"] == IG_ID
    [event] = entry["messaging"]
    assert event["sender"] == {"id": "ig-1"} and event["recipient"] == {"id": IG_ID}
    assert event["message"] == {"mid": answer["mid"], "text": "hey"}


async def test_quick_reply_shape(sim: TestClient, receiver: Receiver) -> None:
    await customer(
        sim, platform="messenger", user_id="u1", text="Yes, cancel it", quick_reply_payload="/affirm"
    )
    message = json.loads(only(receiver).raw)["entry"][0]["messaging"][0]["message"]
    assert message["text"] == "Yes, cancel it"
    assert message["quick_reply"] == {"payload": "/affirm"}


@pytest.mark.parametrize("platform", ["messenger", "instagram"])
async def test_postback_shape(sim: TestClient, receiver: Receiver, platform: str) -> None:
    answer = await customer(
        sim, platform=platform, user_id="u1", postback={"title": "Track", "payload": "TRACK"}
    )
    event = json.loads(only(receiver).raw)["entry"][0]["messaging"][0]
    assert "message" not in event
    assert event["postback"] == {"title": "Track", "payload": "TRACK", "mid": answer["mid"]}


@pytest.mark.parametrize("platform", ["messenger", "instagram"])
async def test_image_shape(sim: TestClient, receiver: Receiver, platform: str) -> None:
    urls = ["https://cdn.example/a.jpg", "https://cdn.example/b.png"]
    await customer(sim, platform=platform, user_id="u1", image_urls=urls)
    message = json.loads(only(receiver).raw)["entry"][0]["messaging"][0]["message"]
    assert message["attachments"] == [{"type": "image", "payload": {"url": url}} for url in urls]
    assert "text" not in message


async def test_messenger_like_sticker_shape(sim: TestClient, receiver: Receiver) -> None:
    await customer(sim, platform="messenger", user_id="u1", sticker=True)
    message = json.loads(only(receiver).raw)["entry"][0]["messaging"][0]["message"]
    assert message["sticker_id"] == 369239263222822
    [attachment] = message["attachments"]
    assert attachment["type"] == "image"
    assert attachment["payload"]["sticker_id"] == 369239263222822
    url = URL(attachment["payload"]["url"])
    assert url.host == "127.0.0.1" and url.port == sim.port
    image = await sim.get(url.path)
    assert image.status == 200 and image.content_type == "image/png"


async def test_given_mid_is_used(sim: TestClient, receiver: Receiver) -> None:
    answer = await customer(sim, platform="messenger", user_id="u1", text="again", mid="m_redelivered")
    assert answer["mid"] == "m_redelivered"
    assert json.loads(only(receiver).raw)["entry"][0]["messaging"][0]["message"]["mid"] == "m_redelivered"


async def test_mids_are_fresh(sim: TestClient, receiver: Receiver) -> None:
    first = await customer(sim, platform="messenger", user_id="u1", text="a")
    second = await customer(sim, platform="messenger", user_id="u1", text="b")
    assert first["mid"] != second["mid"]


async def test_non_200_from_our_webhook_is_reported(sim: TestClient, receiver: Receiver) -> None:
    receiver.status, receiver.text = 500, "boom"
    answer = await customer(sim, platform="messenger", user_id="u1", text="hi")
    assert (answer["status"], answer["body"]) == (500, "boom")


@pytest.mark.parametrize(
    "description",
    [
        {"platform": "messenger", "text": "no user"},
        {"platform": "fax", "user_id": "u1", "text": "hi"},
        {"platform": "messenger", "user_id": "u1"},
        {"platform": "messenger", "user_id": "u1", "text": "hi", "image_urls": ["https://x.example/a.png"]},
        {"platform": "messenger", "user_id": "u1", "quick_reply_payload": "YES"},
        {"platform": "messenger", "user_id": "u1", "image_urls": ["file:///etc/passwd"]},
        {"platform": "messenger", "user_id": "u1", "postback": {"title": "no payload"}},
        {"platform": "messenger", "user_id": "u1", "text": "hi", "postback": {"payload": "P"}},
        {"platform": "messenger", "user_id": "u1", "sticker": "yes"},
        {"platform": "instagram", "user_id": "u1", "sticker": True},
        {"platform": "messenger", "user_id": "u1", "text": 5},
    ],
)
async def test_bad_customer_descriptions(
    sim: TestClient, receiver: Receiver, description: dict[str, Any]
) -> None:
    response = await sim.post("/_sim/customer_message", json=description)
    assert response.status == 400
    assert "error" in await response.json()
    assert receiver.requests == []


# Subscription check and public config


async def test_verification_handshake(sim: TestClient, receiver: Receiver) -> None:
    answer = await (await sim.post("/_sim/verify", json={"platform": "messenger"})).json()
    assert answer["ok"] is True and answer["status"] == 200
    wrong = await (
        await sim.post("/_sim/verify", json={"platform": "instagram", "verify_token": "nope"})
    ).json()
    assert wrong["ok"] is False and wrong["status"] == 403


async def test_public_config_has_ids_but_no_secrets(sim: TestClient, receiver: Receiver) -> None:
    config = await (await sim.get("/_sim/config")).json()
    assert (config["page_id"], config["ig_id"]) == (PAGE_ID, IG_ID)
    assert config["webhook_urls"]["messenger"] == receiver.base_url + "/messenger/webhook"
    assert APP_SECRET not in json.dumps(config)
