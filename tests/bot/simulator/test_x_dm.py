"""The fake X's DM endpoint and media upload: validation like X, answers, records, the signed echo."""

from __future__ import annotations

import hmac
import json
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.simulator.keys import STATE_KEY
from bot.simulator.media import image_size

from .conftest import X_USER_ID, Receiver
from .x_support import (
    PNG_1X1,
    send_dm,
    sign,
    twitter_posts,
    upload,
    upload_form,
    wait_for,
    x_call,
    x_signature,
)

CUSTOMER = "3000000042"
GIF = b"GIF89a\x02\x00\x03\x00" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x04\x00\x00\xff\xc0\x00\x11\x08\x00\x20\x00\x40" + b"\x00" * 32


async def records(sim: TestClient, **query: str) -> list[dict[str, Any]]:
    return await (await sim.get("/_sim/sends", params={"platform": "twitter", **query})).json()


def invalid_request(answer: dict[str, Any]) -> str:
    """The message of X's invalid-request problem, after checking its shape."""
    assert answer["title"] == "Invalid Request"
    assert answer["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert answer["detail"] == "One or more parameters to your request was invalid."
    [error] = answer["errors"]
    assert isinstance(error["parameters"], dict)
    return error["message"]


# Answers


async def test_201_with_conversation_and_event_ids(sim: TestClient) -> None:
    status, answer = await send_dm(sim, CUSTOMER, {"text": "Hello 👋"})
    assert status == 201
    assert set(answer) == {"data"} and set(answer["data"]) == {"dm_conversation_id", "dm_event_id"}
    assert answer["data"]["dm_conversation_id"] == f"{CUSTOMER}-{X_USER_ID}"
    assert re.fullmatch(r"[0-9]{18,19}", answer["data"]["dm_event_id"])


async def test_conversation_id_puts_the_numerically_smaller_id_first(sim: TestClient) -> None:
    larger = "9" * 19
    _, answer = await send_dm(sim, larger, {"text": "hi"})
    assert answer["data"]["dm_conversation_id"] == f"{X_USER_ID}-{larger}"


async def test_event_ids_increase(sim: TestClient) -> None:
    ids = [int((await send_dm(sim, CUSTOMER, {"text": str(i)}))[1]["data"]["dm_event_id"]) for i in range(5)]
    assert ids == sorted(set(ids))


async def test_success_carries_rate_limit_headers(sim: TestClient) -> None:
    response = await x_call(
        sim, "POST", f"/x/2/dm_conversations/with/{CUSTOMER}/messages", json={"text": "a"}
    )
    assert response.headers["x-rate-limit-limit"] == "200"
    assert response.headers["x-rate-limit-remaining"] == "199"
    assert int(response.headers["x-rate-limit-reset"]) > 0


async def test_sends_are_recorded_by_participant(sim: TestClient) -> None:
    await send_dm(sim, CUSTOMER, {"text": "one"})
    await send_dm(sim, "3000000043", {"text": "two"})
    await send_dm(sim, CUSTOMER, {"text": ""})
    got = await records(sim, recipient=CUSTOMER)
    assert [(r["body"], r["status"], r["accepted"]) for r in got] == [
        ({"text": "one"}, 201, True),
        ({"text": ""}, 400, False),
    ]
    assert got[0]["endpoint"] == f"/x/2/dm_conversations/with/{CUSTOMER}/messages"
    assert got[0]["response"]["data"]["dm_conversation_id"] == f"{CUSTOMER}-{X_USER_ID}"


# Validation


@pytest.mark.parametrize(
    ("participant", "body", "fragment"),
    [
        (CUSTOMER, {}, "One of `text` or `attachments`"),
        (CUSTOMER, {"text": ""}, "between 1 and 10000"),
        (CUSTOMER, {"text": "x" * 10001}, "between 1 and 10000"),
        (CUSTOMER, {"text": 42}, "must be a string"),
        (CUSTOMER, {"text": None}, "must be a string"),
        (CUSTOMER, [{"text": "hi"}], "JSON object"),
        (CUSTOMER, {"attachments": []}, "exactly 1"),
        (CUSTOMER, {"attachments": [{"media_id": "1"}, {"media_id": "2"}]}, "exactly 1"),
        (CUSTOMER, {"attachments": {"media_id": "1"}}, "exactly 1"),
        (CUSTOMER, {"attachments": [{"media_id": 1234}]}, "media id string"),
        (CUSTOMER, {"attachments": [{"id": "1234"}]}, "media id string"),
        (CUSTOMER, {"text": "hi", "attachments": [{"media_id": "1234"}]}, "unknown or expired"),
        ("jordan", {"text": "hi"}, "`participant_id` path parameter value [jordan]"),
        ("12345678901234567890", {"text": "hi"}, "is not valid"),
        (X_USER_ID, {"text": "hi"}, "yourself"),
    ],
)
async def test_invalid_requests(sim: TestClient, participant: str, body: Any, fragment: str) -> None:
    status, answer = await send_dm(sim, participant, body)
    assert status == 400
    assert fragment in invalid_request(answer)


async def test_text_of_exactly_10000_characters_is_fine(sim: TestClient) -> None:
    assert (await send_dm(sim, CUSTOMER, {"text": "é" * 10000}))[0] == 201


async def test_a_body_that_is_not_json(sim: TestClient) -> None:
    response = await x_call(sim, "POST", f"/x/2/dm_conversations/with/{CUSTOMER}/messages", data=b"text=hi")
    assert response.status == 400
    assert "not valid JSON" in invalid_request(await response.json())
    [record] = await records(sim)
    assert record["body"] == "text=hi"


# Media upload and attachments


async def test_upload_answers_like_x_v2(sim: TestClient) -> None:
    response = await x_call(sim, "POST", "/x/2/media/upload", data=upload_form(PNG_1X1, "dm_image"))
    assert response.status == 200
    data = (await response.json())["data"]
    assert re.fullmatch(r"[0-9]{18,19}", data["id"])
    assert data["media_key"] == "3_" + data["id"]
    assert (data["size"], data["expires_after_secs"]) == (len(PNG_1X1), 86400)
    assert data["image"] == {"image_type": "image/png", "w": 1, "h": 1}
    assert response.headers["x-rate-limit-remaining"] == str(int(response.headers["x-rate-limit-limit"]) - 1)


async def test_an_uploaded_image_can_be_attached_and_is_viewable_without_oauth(sim: TestClient) -> None:
    media_id = await upload(sim)
    status, answer = await send_dm(sim, CUSTOMER, {"attachments": [{"media_id": media_id}]})
    assert status == 201, answer
    status, _ = await send_dm(
        sim, CUSTOMER, {"text": "and a caption", "attachments": [{"media_id": media_id}]}
    )
    assert status == 201
    viewer = await sim.get(f"/_sim/x/media/{media_id}")
    assert (viewer.status, await viewer.read(), viewer.content_type) == (200, PNG_1X1, "image/png")
    assert (await sim.get("/_sim/x/media/123")).status == 404


async def test_uploads_are_recorded_without_a_participant(sim: TestClient) -> None:
    await upload(sim)
    [record] = await records(sim)
    assert (record["recipient_id"], record["status"], record["endpoint"]) == (None, 200, "/x/2/media/upload")
    assert record["body"]["media_category"] == "dm_image" and record["body"]["size"] == len(PNG_1X1)
    assert await records(sim, recipient=CUSTOMER) == []


async def test_media_for_posts_cannot_be_attached_to_a_dm(sim: TestClient) -> None:
    media_id = await upload(sim, category="tweet_image")
    status, answer = await send_dm(sim, CUSTOMER, {"attachments": [{"media_id": media_id}]})
    assert status == 400
    assert "dm_image or dm_gif" in invalid_request(answer)


async def test_media_expires_after_24_hours(sim: TestClient) -> None:
    media_id = await upload(sim)
    x = sim.server.app[STATE_KEY].x
    x.any_media(media_id).created_at -= 24 * 3600 + 1
    status, answer = await send_dm(sim, CUSTOMER, {"attachments": [{"media_id": media_id}]})
    assert status == 400 and "expired" in invalid_request(answer)


@pytest.mark.parametrize(
    ("data", "category", "fields", "fragment"),
    [
        (PNG_1X1, None, {}, "`media_category` is required"),
        (PNG_1X1, "dm_photo", {}, "not one of"),
        (PNG_1X1, "dm_video", {}, "images only"),
        (PNG_1X1, "dm_gif", {}, "needs a GIF"),
        (b"%PDF-1.7 not an image", "dm_image", {}, "not a JPEG, PNG, GIF or WebP"),
        (PNG_1X1, "dm_image", {"media_type": "image/jpeg"}, "says image/jpeg but the file is image/png"),
        (b"", "dm_image", {}, "`media` (the file) is required"),
    ],
)
async def test_upload_refusals(
    sim: TestClient, data: bytes, category: str | None, fields: dict[str, str], fragment: str
) -> None:
    response = await x_call(sim, "POST", "/x/2/media/upload", data=upload_form(data, category, **fields))
    assert response.status == 400
    assert fragment in invalid_request(await response.json())
    [record] = await records(sim)
    assert (record["status"], record["accepted"]) == (400, False)


async def test_uploads_over_5_mb_are_refused(sim: TestClient) -> None:
    big = PNG_1X1 + b"\x00" * (5 * 1024 * 1024)
    response = await x_call(sim, "POST", "/x/2/media/upload", data=upload_form(big))
    assert response.status == 400
    assert "File size exceeds 5242880 bytes" in invalid_request(await response.json())
    exactly = PNG_1X1 + b"\x00" * (5 * 1024 * 1024 - len(PNG_1X1))
    response = await x_call(sim, "POST", "/x/2/media/upload", data=upload_form(exactly))
    assert response.status == 200


async def test_uploads_must_be_multipart(sim: TestClient) -> None:
    response = await x_call(
        sim, "POST", "/x/2/media/upload", json={"media": "aGk=", "media_category": "dm_image"}
    )
    assert response.status == 400
    assert "multipart/form-data" in invalid_request(await response.json())


async def test_uploads_need_oauth(sim: TestClient) -> None:
    response = await x_call(sim, "POST", "/x/2/media/upload", data=upload_form(), signed=False)
    assert response.status == 401


async def test_gif_media_keys_and_sizes(sim: TestClient) -> None:
    response = await x_call(sim, "POST", "/x/2/media/upload", data=upload_form(GIF, "dm_gif"))
    data = (await response.json())["data"]
    assert data["media_key"] == "16_" + data["id"]
    assert data["image"] == {"image_type": "image/gif", "w": 2, "h": 3}


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (PNG_1X1, (1, 1)),
        (GIF, (2, 3)),
        (JPEG, (64, 32)),
        (b"RIFF\x00\x00\x00\x00WEBPVP8X" + b"\x00" * 8 + b"\x09\x00\x00\x04\x00\x00", (10, 5)),
        (b"\xff\xd8\xff\xe0", None),
        (b"not an image", None),
    ],
)
def test_image_size(data: bytes, size: tuple[int, int] | None) -> None:
    assert image_size(data) == size


# The echo (Account Activity delivers our own DMs back to us)


async def test_a_sent_dm_is_echoed_to_our_webhook_signed(sim: TestClient, receiver: Receiver) -> None:
    _, answer = await send_dm(
        sim, CUSTOMER, {"text": "Your order ships today: https://loomandco.example/o/1"}
    )
    await wait_for(lambda: len(twitter_posts(receiver)) == 1)
    [posted] = twitter_posts(receiver)
    assert hmac.compare_digest(posted.headers["x-twitter-webhooks-signature"], x_signature(posted.raw))
    body = json.loads(posted.raw)
    assert body["for_user_id"] == X_USER_ID
    [event] = body["direct_message_events"]
    assert (event["type"], event["id"]) == ("message_create", answer["data"]["dm_event_id"])
    create = event["message_create"]
    assert (create["sender_id"], create["target"]["recipient_id"]) == (X_USER_ID, CUSTOMER)
    assert create["source_app_id"] in body["apps"]
    [url] = create["message_data"]["entities"]["urls"]
    assert url["expanded_url"] == "https://loomandco.example/o/1"
    assert create["message_data"]["text"] == "Your order ships today: " + url["url"]
    assert set(body["users"]) == {X_USER_ID, CUSTOMER}
    assert body["users"][X_USER_ID]["screen_name"] == "loomandco"


async def test_an_echo_with_a_photo_points_at_the_oauth_protected_ton_url(
    sim: TestClient, receiver: Receiver
) -> None:
    media_id = await upload(sim)
    await send_dm(sim, CUSTOMER, {"attachments": [{"media_id": media_id}]})
    await wait_for(lambda: len(twitter_posts(receiver)) == 1)
    data = json.loads(twitter_posts(receiver)[0].raw)["direct_message_events"][0]["message_create"][
        "message_data"
    ]
    media = data["attachment"]["media"]
    assert (data["attachment"]["type"], media["id_str"], media["type"]) == ("media", media_id, "photo")
    assert data["text"] == " " + media["url"]
    path = "/" + media["media_url_https"].split("/", 3)[3]
    assert (await x_call(sim, "GET", path, signed=False)).status == 401
    got = await x_call(sim, "GET", path)
    assert (got.status, await got.read()) == (200, PNG_1X1)


async def test_echoes_can_be_switched_off(sim: TestClient, receiver: Receiver) -> None:
    assert (await sim.post("/_sim/x/echoes", json={"enabled": False})).status == 200
    await send_dm(sim, CUSTOMER, {"text": "quiet"})
    assert (await sim.post("/_sim/x/echoes", json={"enabled": True})).status == 200
    await send_dm(sim, CUSTOMER, {"text": "loud"})
    await wait_for(lambda: len(twitter_posts(receiver)) == 1)
    echoes = await (await sim.get("/_sim/x/echoes")).json()
    assert echoes["enabled"] is True
    texts = [
        d["webhook"]["direct_message_events"][0]["message_create"]["message_data"]["text"]
        for d in echoes["deliveries"]
    ]
    assert texts == ["loud"]
    assert (await sim.post("/_sim/x/echoes", json={"enabled": "no"})).status == 400


async def test_refused_dms_are_not_echoed(sim: TestClient, receiver: Receiver) -> None:
    await send_dm(sim, CUSTOMER, {"text": ""})
    await send_dm(sim, CUSTOMER, {"text": "hi"}, consumer_key="nope")
    await send_dm(sim, CUSTOMER, {"text": "counted"})
    await wait_for(lambda: len(twitter_posts(receiver)) == 1)
    assert len(twitter_posts(receiver)) == 1


async def test_a_malformed_multipart_body_is_a_400(sim: TestClient) -> None:
    url = "/x/2/media/upload"
    headers = {"Content-Type": "multipart/form-data; boundary=xyz"}
    headers["Authorization"] = sign("POST", str(sim.make_url(url)))
    response = await sim.post(url, data=b"this is not multipart at all", headers=headers)
    assert response.status == 400
    assert "multipart" in invalid_request(await response.json())
