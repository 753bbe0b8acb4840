"""Account Activity webhooks from the fake X: customer DMs, mentions, signing, and the CRC check."""

from __future__ import annotations

import hmac
import json
import re
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from bot.simulator.app import create_app
from bot.simulator.x_payloads import created_at

from .conftest import X_CONSUMER_SECRET, X_USER_ID, Receiver, make_config
from .x_support import PNG_1X1, twitter_posts, x_call, x_signature

CUSTOMER = "3000000042"
TCO = re.compile(r"https://t\.co/[A-Za-z0-9]{10}")


async def customer(sim: TestClient, **fields: Any) -> dict[str, Any]:
    response = await sim.post(
        "/_sim/customer_message", json={"platform": "twitter", "user_id": CUSTOMER, **fields}
    )
    assert response.status == 200, await response.text()
    return await response.json()


def delivered(receiver: Receiver) -> dict[str, Any]:
    """The one body posted to our X webhook, after checking its signature."""
    [posted] = twitter_posts(receiver)
    assert hmac.compare_digest(posted.headers["x-twitter-webhooks-signature"], x_signature(posted.raw))
    return json.loads(posted.raw)


# Customer DMs


async def test_a_text_dm(sim: TestClient, receiver: Receiver) -> None:
    answer = await customer(sim, text="Where is order 104523? #late", name="Jordan B", screen_name="jordan_b")
    body = delivered(receiver)
    assert answer["webhook"] == body and answer["status"] == 200 and answer["body"] == "EVENT_RECEIVED"
    assert body["for_user_id"] == X_USER_ID
    [event] = body["direct_message_events"]
    assert (event["type"], event["id"]) == ("message_create", answer["mid"])
    assert re.fullmatch(r"[0-9]{13}", event["created_timestamp"])
    assert abs(int(event["created_timestamp"]) / 1000 - time.time()) < 5
    create = event["message_create"]
    assert create["target"] == {"recipient_id": X_USER_ID}
    assert create["sender_id"] == CUSTOMER and "source_app_id" not in create
    assert create["message_data"] == {
        "text": "Where is order 104523? #late",
        "entities": {
            "hashtags": [{"text": "late", "indices": [23, 28]}],
            "symbols": [],
            "user_mentions": [],
            "urls": [],
        },
    }
    user = body["users"][CUSTOMER]
    assert (user["id"], user["name"], user["screen_name"]) == (CUSTOMER, "Jordan B", "jordan_b")
    assert (user["protected"], user["verified"]) == (False, False)
    assert {
        "created_timestamp",
        "followers_count",
        "friends_count",
        "statuses_count",
        "profile_image_url_https",
    } <= set(user)
    assert body["users"][X_USER_ID]["screen_name"] == "loomandco"
    assert "apps" not in body


async def test_links_are_wrapped_in_tco_like_x_does(sim: TestClient, receiver: Receiver) -> None:
    await customer(sim, text="see https://example.com/a/very/long/path?x=1, thanks @loomandco")
    data = delivered(receiver)["direct_message_events"][0]["message_create"]["message_data"]
    [url] = data["entities"]["urls"]
    assert TCO.fullmatch(url["url"])
    assert url["expanded_url"] == "https://example.com/a/very/long/path?x=1"
    assert url["display_url"] == "example.com/a/very/long/path?x=…"
    start, end = url["indices"]
    assert data["text"][start:end] == url["url"]
    assert data["text"] == f"see {url['url']}, thanks @loomandco"
    [mention] = data["entities"]["user_mentions"]
    assert (mention["id_str"], mention["screen_name"]) == (X_USER_ID, "loomandco")
    assert data["text"][mention["indices"][0] : mention["indices"][1]] == "@loomandco"


async def test_a_quick_reply_response(sim: TestClient, receiver: Receiver) -> None:
    await customer(sim, text="Talk to a person", quick_reply_payload="/request_human")
    data = delivered(receiver)["direct_message_events"][0]["message_create"]["message_data"]
    assert data["quick_reply_response"] == {"type": "options", "metadata": "/request_human"}


async def test_a_photo_dm_is_served_only_to_signed_requests(sim: TestClient, receiver: Receiver) -> None:
    upload = await (await sim.post("/_sim/media", data=PNG_1X1, headers={"Content-Type": "image/png"})).json()
    await customer(sim, image_urls=[upload["url"]])
    event = delivered(receiver)["direct_message_events"][0]
    data = event["message_create"]["message_data"]
    media = data["attachment"]["media"]
    assert data["attachment"]["type"] == "media"
    assert data["text"] == " " + media["url"]  # X appends the photo's t.co link, even to an empty text
    assert data["entities"]["urls"][0]["url"] == media["url"]
    assert media["indices"] == [1, 24]
    assert (
        media["type"] == "photo"
        and re.fullmatch(r"[0-9]+", media["id_str"])
        and media["id"] == int(media["id_str"])
    )
    assert media["expanded_url"] == f"https://twitter.com/messages/media/{event['id']}"
    assert media["sizes"]["thumb"] == {"w": 150, "h": 150, "resize": "crop"}
    assert media["sizes"]["large"] == {"w": 1, "h": 1, "resize": "fit"}
    url = URL(media["media_url_https"])
    assert re.fullmatch(rf"/x/1\.1/ton/data/dm/{event['id']}/{media['id_str']}/[A-Za-z0-9_-]+\.png", url.path)
    assert url.host == "127.0.0.1"
    assert (await sim.get(url.path)).status == 401
    assert (await x_call(sim, "GET", url.path, consumer_secret="wrong")).status == 401
    got = await x_call(sim, "GET", url.path)
    assert (got.status, got.content_type, await got.read()) == (200, "image/png", PNG_1X1)
    wrong_name = url.path.rsplit("/", 1)[0] + "/other.png"
    assert (await x_call(sim, "GET", wrong_name)).status == 404


async def test_photo_with_a_caption(sim: TestClient, receiver: Receiver) -> None:
    upload = await (await sim.post("/_sim/media", data=PNG_1X1, headers={"Content-Type": "image/png"})).json()
    await customer(sim, text="this came torn", image_urls=[upload["url"]])
    data = delivered(receiver)["direct_message_events"][0]["message_create"]["message_data"]
    media = data["attachment"]["media"]
    assert data["text"] == "this came torn " + media["url"]
    assert media["indices"] == [15, 38]


async def test_a_given_event_id_allows_redelivery_tests(sim: TestClient, receiver: Receiver) -> None:
    answer = await customer(sim, text="again", mid="1234567890123456789")
    assert answer["mid"] == "1234567890123456789" == answer["webhook"]["direct_message_events"][0]["id"]


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"user_id": "sim-123"}, "digits"),
        ({"user_id": X_USER_ID}, "brand's own"),
        ({}, "text and/or image_urls"),
        ({"quick_reply_payload": "/x"}, "text and/or image_urls"),
        ({"text": "a", "postback": {"payload": "p"}}, "postback"),
        ({"text": "a", "sticker": True}, "sticker"),
        ({"image_urls": ["https://example.com/a.png"]}, "uploaded to this simulator"),
        ({"image_urls": ["http://127.0.0.1/_sim/media/unknown"]}, "uploaded to this simulator"),
        ({"image_urls": ["a", "b"]}, "list of one URL"),
        ({"text": "a", "screen_name": "has space"}, "screen_name"),
        ({"text": "a", "mid": "m_abc"}, "digits"),
    ],
)
async def test_customer_message_refusals(sim: TestClient, fields: dict[str, Any], fragment: str) -> None:
    response = await sim.post(
        "/_sim/customer_message", json={"platform": "twitter", "user_id": CUSTOMER, **fields}
    )
    assert response.status == 400
    assert fragment in (await response.json())["error"]


async def test_unreachable_webhook_is_reported(receiver: Receiver) -> None:
    client = TestClient(TestServer(create_app(make_config("http://127.0.0.1:9/webhooks"))))
    await client.start_server()
    try:
        response = await client.post(
            "/_sim/customer_message", json={"platform": "twitter", "user_id": CUSTOMER, "text": "hi"}
        )
        assert response.status == 502
        assert "could not deliver" in (await response.json())["error"]
    finally:
        await client.close()


# Mentions


async def test_a_mention(sim: TestClient, receiver: Receiver) -> None:
    answer = await sim.post(
        "/_sim/x/mention",
        json={"user_id": CUSTOMER, "screen_name": "fan_1", "name": "A Fan", "text": "love the scarf"},
    )
    answer = await answer.json()
    body = delivered(receiver)
    assert answer["webhook"] == body and answer["status"] == 200
    assert (body["for_user_id"], body["user_has_blocked"]) == (X_USER_ID, False)
    [tweet] = body["tweet_create_events"]
    assert tweet["id_str"] == answer["tweet_id"] and tweet["id"] == int(answer["tweet_id"])
    assert tweet["text"] == "@loomandco love the scarf"
    assert re.fullmatch(
        r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \+0000 \d{4}", tweet["created_at"]
    )
    assert tweet["user"]["id_str"] == CUSTOMER and tweet["user"]["id"] == int(CUSTOMER)
    assert (tweet["user"]["screen_name"], tweet["user"]["name"]) == ("fan_1", "A Fan")
    assert tweet["entities"]["user_mentions"] == [
        {
            "screen_name": "loomandco",
            "name": "Loom & Co.",
            "id": int(X_USER_ID),
            "id_str": X_USER_ID,
            "indices": [0, 10],
        }
    ]
    assert (tweet["entities"]["hashtags"], tweet["entities"]["urls"]) == ([], [])
    assert tweet["in_reply_to_status_id_str"] is None and tweet["in_reply_to_status_id"] is None
    assert tweet["in_reply_to_user_id_str"] == X_USER_ID  # X's reading of a tweet that starts with a mention
    assert tweet["truncated"] is False and "extended_tweet" not in tweet
    assert tweet["timestamp_ms"].isdigit()


async def test_a_mention_that_already_names_the_brand_is_kept(sim: TestClient, receiver: Receiver) -> None:
    await sim.post("/_sim/x/mention", json={"user_id": CUSTOMER, "text": "shout out to @LoomAndCo #cosy"})
    [tweet] = delivered(receiver)["tweet_create_events"]
    assert tweet["text"] == "shout out to @LoomAndCo #cosy"
    assert tweet["entities"]["user_mentions"][0]["indices"] == [13, 23]
    assert tweet["entities"]["hashtags"] == [{"text": "cosy", "indices": [24, 29]}]
    assert tweet["in_reply_to_user_id_str"] is None


async def test_the_brands_own_tweet(sim: TestClient, receiver: Receiver) -> None:
    answer = await (
        await sim.post("/_sim/x/mention", json={"text": "winter sale is live", "from_brand": True})
    ).json()
    body = delivered(receiver)
    [tweet] = body["tweet_create_events"]
    assert tweet["user"]["id_str"] == X_USER_ID and tweet["user"]["screen_name"] == "loomandco"
    assert tweet["text"] == "winter sale is live" and tweet["id_str"] == answer["tweet_id"]
    assert "user_has_blocked" not in body


async def test_a_long_mention_is_truncated_with_an_extended_tweet(
    sim: TestClient, receiver: Receiver
) -> None:
    text = "my parcel " + "is still missing " * 12 + "https://example.com/track/1"
    await sim.post("/_sim/x/mention", json={"user_id": CUSTOMER, "text": text})
    [tweet] = delivered(receiver)["tweet_create_events"]
    full = tweet["extended_tweet"]["full_text"]
    assert tweet["truncated"] is True
    assert full.startswith("@loomandco my parcel is still missing") and TCO.search(full)
    assert tweet["extended_tweet"]["display_text_range"] == [0, len(full)]
    assert len(tweet["text"]) <= 140
    status_link = tweet["entities"]["urls"][-1]
    assert status_link["expanded_url"] == f"https://twitter.com/i/web/status/{tweet['id_str']}"
    assert tweet["text"].endswith("… " + status_link["url"])
    assert tweet["extended_tweet"]["entities"]["urls"][0]["expanded_url"] == "https://example.com/track/1"


@pytest.mark.parametrize(
    "fields",
    [
        {"user_id": CUSTOMER},
        {"user_id": "abc", "text": "x"},
        {"user_id": CUSTOMER, "text": "x", "from_brand": "yes"},
        {"text": "x"},
    ],
)
async def test_mention_refusals(sim: TestClient, fields: dict[str, Any]) -> None:
    assert (await sim.post("/_sim/x/mention", json=fields)).status == 400


def test_created_at_format() -> None:
    assert created_at(1764112988) == "Tue Nov 25 23:23:08 +0000 2025"
    assert created_at(0) == "Thu Jan 01 00:00:00 +0000 1970"


# /_sim/webhook with platform twitter


async def test_raw_webhooks_are_signed_with_the_consumer_secret(sim: TestClient, receiver: Receiver) -> None:
    raw = '{"for_user_id": "1500000000000000001", "direct_message_events": []}'
    response = await sim.post("/_sim/webhook", json={"platform": "twitter", "raw": raw})
    assert (await response.json())["status"] == 200
    [posted] = twitter_posts(receiver)
    assert posted.raw == raw.encode()
    assert posted.headers["x-twitter-webhooks-signature"] == x_signature(raw.encode(), X_CONSUMER_SECRET)
    assert "X-Hub-Signature-256" not in posted.headers


@pytest.mark.parametrize("mode", ["invalid", "none"])
async def test_raw_webhooks_can_be_badly_signed(sim: TestClient, receiver: Receiver, mode: str) -> None:
    await sim.post(
        "/_sim/webhook", json={"platform": "twitter", "body": {"for_user_id": X_USER_ID}, "sign": mode}
    )
    [posted] = twitter_posts(receiver)
    signature = posted.headers.get("x-twitter-webhooks-signature")
    assert signature is None if mode == "none" else signature != x_signature(posted.raw)


# The CRC check


async def test_crc_against_a_correct_endpoint(sim: TestClient, receiver: Receiver) -> None:
    answer = await (await sim.post("/_sim/x/crc", json={})).json()
    [token] = receiver.crc_tokens
    assert answer["crc_token"] == token and len(token) >= 24
    assert answer["ok"] is True and answer["status"] == 200
    assert answer["response_token"] == answer["expected"] == x_signature(token.encode())


async def test_crc_with_a_given_token_and_no_body(sim: TestClient, receiver: Receiver) -> None:
    answer = await (await sim.post("/_sim/x/crc", json={"crc_token": "abc"})).json()
    assert receiver.crc_tokens == ["abc"] and answer["ok"] is True
    assert (await (await sim.post("/_sim/x/crc")).json())["ok"] is True


async def test_crc_against_an_endpoint_with_the_wrong_secret(sim: TestClient, receiver: Receiver) -> None:
    receiver.crc_secret = "not-the-consumer-secret"
    answer = await (await sim.post("/_sim/x/crc", json={})).json()
    assert answer["ok"] is False and answer["status"] == 200
    assert answer["response_token"] != answer["expected"]


async def test_crc_against_an_unreachable_endpoint(receiver: Receiver) -> None:
    client = TestClient(TestServer(create_app(make_config("http://127.0.0.1:9/webhooks"))))
    await client.start_server()
    try:
        answer = await (await client.post("/_sim/x/crc", json={})).json()
        assert answer["ok"] is False and answer["status"] is None and "could not reach" in answer["error"]
    finally:
        await client.close()


async def test_config_shows_x_without_secrets(sim: TestClient, receiver: Receiver) -> None:
    config = await (await sim.get("/_sim/config")).json()
    assert config["x"]["user_id"] == X_USER_ID and config["x"]["screen_name"] == "loomandco"
    assert config["x"]["api_url"].endswith("/x")
    assert config["webhook_urls"]["twitter"] == receiver.base_url + "/twitter/webhook"
    assert "secret" not in json.dumps(config) and "token" not in json.dumps(config)
