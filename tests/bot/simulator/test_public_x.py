"""The fake X's public side: replies (`POST /2/tweets`), hidden replies, and customers' tweet photos."""

from __future__ import annotations

import hmac
import json
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from bot.simulator.x_validation import tweet_length

from .conftest import X_USER_ID, Receiver
from .public_support import X_POST, actions, listed, posted, public_comment, uploaded_image
from .x_support import PNG_1X1, problem_of, wait_for, x_call, x_signature

CUSTOMER = "3000000042"


async def reply(
    sim: TestClient, target: str, text: str = "Thanks! Check your DMs.", **options: Any
) -> tuple[int, Any]:
    body = {"text": text, "reply": {"in_reply_to_tweet_id": target}}
    response = await x_call(sim, "POST", "/x/2/tweets", json=body, **options)
    return response.status, await response.json()


async def hide(sim: TestClient, tweet_id: str, hidden: Any = True, **options: Any) -> tuple[int, Any]:
    response = await x_call(sim, "PUT", f"/x/2/tweets/{tweet_id}/hidden", json={"hidden": hidden}, **options)
    return response.status, await response.json()


def invalid_request(answer: dict[str, Any]) -> str:
    assert answer["title"] == "Invalid Request"
    assert answer["type"] == "https://api.twitter.com/2/problems/invalid-request"
    [error] = answer["errors"]
    return error["message"]


def signed_x_body(receiver: Receiver, index: int) -> dict[str, Any]:
    captured = posted(receiver, "twitter")[index]
    assert hmac.compare_digest(captured.headers["x-twitter-webhooks-signature"], x_signature(captured.raw))
    return json.loads(captured.raw)


# Customers' tweets with photos


async def test_a_tweet_photo_is_served_only_to_signed_requests(sim: TestClient, receiver: Receiver) -> None:
    url = await uploaded_image(sim)
    answer = await public_comment(sim, "twitter", text="it arrived torn", image_urls=[url])
    [tweet] = signed_x_body(receiver, 0)["tweet_create_events"]
    [media] = tweet["entities"]["media"]
    assert tweet["extended_entities"] == {"media": [media]}
    assert tweet["text"] == "@loomandco it arrived torn " + media["url"]
    assert media["indices"] == [27, 50] and tweet["display_text_range"] == [11, 26]
    assert (media["type"], media["id"], media["display_url"].startswith("pic.twitter.com/")) == (
        "photo",
        int(media["id_str"]),
        True,
    )
    assert (
        media["expanded_url"]
        == f"https://twitter.com/{tweet['user']['screen_name']}/status/{answer['id']}/photo/1"
    )
    path = URL(media["media_url_https"]).path
    assert re.fullmatch(rf"/x/pbs/media/{answer['id']}/{media['id_str']}/[A-Za-z0-9_-]+\.png", path)
    assert (await sim.get(path)).status == 401
    assert (await x_call(sim, "GET", path, consumer_secret="wrong")).status == 401
    got = await x_call(sim, "GET", path)
    assert (got.status, got.content_type, await got.read()) == (200, "image/png", PNG_1X1)
    # Not reachable as a DM photo, and the page shows it from the simulator's own store.
    assert (await x_call(sim, "GET", path.replace("/pbs/media/", "/1.1/ton/data/dm/"))).status == 404
    assert (await listed(sim, answer["id"]))["photo"] == url


async def test_a_photo_alone_is_the_handle_and_the_link(sim: TestClient, receiver: Receiver) -> None:
    url = await uploaded_image(sim)
    answer = await public_comment(sim, "twitter", text="", image_urls=[url])
    [tweet] = answer["webhook"]["tweet_create_events"]
    assert tweet["text"] == "@loomandco " + tweet["entities"]["media"][0]["url"]


async def test_a_long_tweet_with_a_photo_keeps_it_in_the_extended_tweet(sim: TestClient) -> None:
    url = await uploaded_image(sim)
    answer = await public_comment(sim, "twitter", text="so disappointed " * 12, image_urls=[url])
    [tweet] = answer["webhook"]["tweet_create_events"]
    assert (
        tweet["truncated"] is True and "media" not in tweet["entities"] and "extended_entities" not in tweet
    )
    extended = tweet["extended_tweet"]
    [media] = extended["entities"]["media"]
    assert extended["extended_entities"] == {"media": [media]}
    assert extended["full_text"].endswith(" " + media["url"])
    assert extended["display_text_range"] == [11, len(extended["full_text"]) - len(media["url"]) - 1]


# Replies by the brand


async def test_a_reply_answers_201_and_comes_back_as_our_own_tweet(
    sim: TestClient, receiver: Receiver
) -> None:
    target = (await public_comment(sim, "twitter", screen_name="fan_1"))["id"]
    status, answer = await reply(sim, target)
    assert status == 201
    tweet_id = answer["data"]["id"]
    assert answer == {
        "data": {"edit_history_tweet_ids": [tweet_id], "id": tweet_id, "text": "Thanks! Check your DMs."}
    }
    assert re.fullmatch(r"[0-9]{18,19}", tweet_id)
    await wait_for(lambda: len(posted(receiver, "twitter")) == 2)
    body = signed_x_body(receiver, 1)
    assert body["for_user_id"] == X_USER_ID and "user_has_blocked" not in body
    [tweet] = body["tweet_create_events"]
    assert (tweet["id_str"], tweet["user"]["id_str"]) == (tweet_id, X_USER_ID)
    assert tweet["text"] == "@fan_1 Thanks! Check your DMs."
    assert (tweet["in_reply_to_status_id_str"], tweet["in_reply_to_screen_name"]) == (target, "fan_1")
    assert tweet["display_text_range"] == [7, len(tweet["text"])]
    item = await listed(sim, tweet_id)
    assert (item["from_brand"], item["parent_id"], item["post_id"]) == (True, target, X_POST)


async def test_a_reply_to_a_mention(sim: TestClient) -> None:
    mention = await (await sim.post("/_sim/x/mention", json={"user_id": CUSTOMER, "text": "help!"})).json()
    status, answer = await reply(sim, mention["tweet_id"], "@customer000042 on it")
    assert status == 201
    assert (await listed(sim, answer["data"]["id"]))["text"] == "@customer000042 on it"  # no second handle


async def test_an_unknown_tweet_is_not_visible(sim: TestClient, receiver: Receiver) -> None:
    status, answer = await reply(sim, "1234567890")
    assert status == 403
    problem_of(answer, 403)
    assert answer["detail"] == "You attempted to reply to a Tweet that is deleted or not visible to you."
    assert posted(receiver, "twitter") == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"text": "x" * 281, "reply": {"in_reply_to_tweet_id": X_POST}}, "between 1 and 280"),
        ({"text": "界" * 141, "reply": {"in_reply_to_tweet_id": X_POST}}, "(it is 282)"),
        ({"text": "", "reply": {"in_reply_to_tweet_id": X_POST}}, "between 1 and 280"),
        ({"reply": {"in_reply_to_tweet_id": X_POST}}, "`text` must be a string"),
        ({"text": "hi"}, "replies only"),
        ({"text": "hi", "reply": {}}, "$.reply.in_reply_to_tweet_id: is missing but it is required"),
        ({"text": "hi", "reply": {"in_reply_to_tweet_id": 17}}, "is not valid"),
        ({"text": "hi", "reply": {"in_reply_to_tweet_id": X_POST, "x": 1}}, "Unknown `reply` fields"),
        ({"text": "hi", "reply": {"in_reply_to_tweet_id": X_POST}, "poll": {}}, "not poll"),
        (["hi"], "JSON object"),
    ],
)
async def test_invalid_replies(sim: TestClient, body: Any, fragment: str) -> None:
    response = await x_call(sim, "POST", "/x/2/tweets", json=body)
    assert response.status == 400
    assert fragment in invalid_request(await response.json())


async def test_exactly_280_characters_as_x_counts_them(sim: TestClient) -> None:
    link = "https://example.com/" + "a" * 100
    text = link + " " + "x" * 256
    assert tweet_length(text) == 280
    assert (await reply(sim, X_POST, text))[0] == 201
    assert tweet_length("é" * 280) == 280 and tweet_length("😀") == 2


async def test_replies_need_oauth(sim: TestClient, receiver: Receiver) -> None:
    status, answer = await reply(sim, X_POST, signed=False)
    assert status == 401
    problem_of(answer, 401)
    status, _ = await reply(sim, X_POST, token_secret="wrong")
    assert status == 401
    [first, second] = await actions(sim)
    assert (first["platform"], first["kind"], first["accepted"], first["status"]) == (
        "twitter",
        "public_reply",
        False,
        401,
    )
    assert second["status"] == 401 and posted(receiver, "twitter") == []


# Hiding replies


async def test_hide_and_unhide_a_reply_to_the_brand(sim: TestClient) -> None:
    target = (await public_comment(sim, "twitter"))["id"]
    assert await hide(sim, target) == (200, {"data": {"hidden": True}})
    assert (await listed(sim, target))["hidden"] is True
    assert await hide(sim, target, False) == (200, {"data": {"hidden": False}})
    assert (await listed(sim, target))["hidden"] is False
    assert [(a["kind"], a["target_id"]) for a in await actions(sim)] == [("hide", target), ("unhide", target)]


async def test_only_replies_in_the_brands_conversations_can_be_hidden(sim: TestClient) -> None:
    mention = await (await sim.post("/_sim/x/mention", json={"user_id": CUSTOMER, "text": "hey"})).json()
    under_mention = (await public_comment(sim, "twitter", user_id="3000000043", post_id=mention["tweet_id"]))[
        "id"
    ]
    _, ours = await reply(sim, X_POST)
    for tweet_id in (mention["tweet_id"], under_mention, ours["data"]["id"], X_POST):
        status, answer = await hide(sim, tweet_id)
        assert status == 403, tweet_id
        problem_of(answer, 403)


@pytest.mark.parametrize(
    ("tweet_id", "body", "status"),
    [
        ("999", {"hidden": True}, 404),
        ("abc", {"hidden": True}, 400),
        (X_POST, {"hidden": "yes"}, 400),
        (X_POST, {}, 400),
        (X_POST, {"hidden": True, "why": "spam"}, 400),
    ],
)
async def test_hide_refusals(sim: TestClient, tweet_id: str, body: Any, status: int) -> None:
    response = await x_call(sim, "PUT", f"/x/2/tweets/{tweet_id}/hidden", json=body)
    assert response.status == status


async def test_hiding_needs_oauth(sim: TestClient) -> None:
    target = (await public_comment(sim, "twitter"))["id"]
    assert (await hide(sim, target, signed=False))[0] == 401
    assert (await listed(sim, target))["hidden"] is False


# Injected failures, rate-limit headers, the record


async def test_injected_failures_and_rate_limit_headers(sim: TestClient, receiver: Receiver) -> None:
    target = (await public_comment(sim, "twitter"))["id"]
    rule = {"platform": "twitter", "status": 429, "kind": "public_reply", "recipient": target, "reset_in": 30}
    assert (await sim.post("/_sim/fail", json=rule)).status == 200
    response = await x_call(
        sim, "POST", "/x/2/tweets", json={"text": "hi", "reply": {"in_reply_to_tweet_id": target}}
    )
    assert response.status == 429 and response.headers["x-rate-limit-remaining"] == "0"
    assert (
        await sim.post("/_sim/fail", json={"platform": "twitter", "status": 503, "kind": "hide"})
    ).status == 200
    assert (await hide(sim, target))[0] == 503
    response = await x_call(sim, "PUT", f"/x/2/tweets/{target}/hidden", json={"hidden": True})
    assert response.status == 200 and response.headers["x-rate-limit-limit"] == "50"
    status, _ = await reply(sim, target)
    assert status == 201
    recorded = await actions(sim, platform="twitter")
    assert [(a["kind"], a["status"]) for a in recorded] == [
        ("public_reply", 429),
        ("hide", 503),
        ("hide", 200),
        ("public_reply", 201),
    ]
    assert recorded[-1]["result_id"] == (await listed(sim, target))["replies"][0]["id"]
    await wait_for(lambda: len(posted(receiver, "twitter")) == 2)


async def test_public_calls_are_not_in_the_dm_record(sim: TestClient) -> None:
    await reply(sim, X_POST)
    assert await (await sim.get("/_sim/sends", params={"platform": "twitter"})).json() == []
