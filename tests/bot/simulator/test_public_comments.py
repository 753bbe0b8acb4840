"""Customers' public comments: `/_sim/public_comment`, the webhooks Meta would send, and `/_sim/public`."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.simulator.app import create_app

from .conftest import IG_ID, PAGE_ID, Receiver, make_config
from .public_support import (
    FB_CUSTOMER,
    FB_POST,
    FB_POST_2,
    IG_CUSTOMER,
    IG_MEDIA,
    IG_MEDIA_2,
    X_POST,
    listed,
    posted,
    public_comment,
    signed_meta_body,
    uploaded_image,
)

GRAPH_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000")


def only_change(body: dict[str, Any], account_id: str, field: str) -> dict[str, Any]:
    """The value of the single change of a webhook, after checking the entry around it."""
    [entry] = body["entry"]
    assert entry["id"] == account_id
    assert isinstance(entry["time"], int) and abs(entry["time"] - time.time()) < 5  # seconds, not ms
    [change] = entry["changes"]
    assert change["field"] == field
    return change["value"]


# Facebook


async def test_a_facebook_comment_is_a_signed_page_feed_webhook(sim: TestClient, receiver: Receiver) -> None:
    answer = await public_comment(sim, "facebook", text="Does it come in XL?", name="Sam Doe")
    [captured] = posted(receiver, "facebook")
    body = signed_meta_body(captured)
    assert answer["webhook"] == body and (answer["status"], answer["body"]) == (200, "EVENT_RECEIVED")
    assert body["object"] == "page"
    value = only_change(body, PAGE_ID, "feed")
    post_digits = FB_POST.split("_")[1]
    assert re.fullmatch(rf"{post_digits}_[0-9]+", value["comment_id"]) and value["comment_id"] == answer["id"]
    assert value == {
        "item": "comment",
        "verb": "add",
        "comment_id": answer["id"],
        "post_id": FB_POST,
        "parent_id": FB_POST,
        "from": {"id": FB_CUSTOMER, "name": "Sam Doe"},
        "message": "Does it come in XL?",
        "created_time": value["created_time"],
        "post": {
            "id": FB_POST,
            "permalink_url": f"https://www.facebook.com/{PAGE_ID}/posts/{post_digits}",
            "status_type": "added_photos",
            "is_published": True,
            "updated_time": value["post"]["updated_time"],
            "promotion_status": "inactive",
        },
    }
    assert isinstance(value["created_time"], int) and abs(value["created_time"] - time.time()) < 5
    assert GRAPH_TIME.fullmatch(value["post"]["updated_time"])
    assert (answer["post_id"], answer["parent_id"]) == (FB_POST, FB_POST)


async def test_a_facebook_reply_names_its_comment_and_a_photo_is_carried(
    sim: TestClient, receiver: Receiver
) -> None:
    first = await public_comment(sim, "facebook", post_id=FB_POST_2)
    url = await uploaded_image(sim)
    reply = await public_comment(sim, "facebook", parent_id=first["id"], text="here it is", image_urls=[url])
    value = only_change(signed_meta_body(posted(receiver, "facebook")[1]), PAGE_ID, "feed")
    assert (value["post_id"], value["parent_id"], value["photo"]) == (FB_POST_2, first["id"], url)
    assert value["comment_id"].startswith(FB_POST_2.split("_")[1] + "_")
    # Meta threads are one level deep: an answer to the reply goes under the top-level comment.
    again = await public_comment(sim, "facebook", parent_id=reply["id"])
    assert again["parent_id"] == first["id"]


async def test_a_photo_alone_has_no_message(sim: TestClient, receiver: Receiver) -> None:
    url = await uploaded_image(sim)
    answer = await public_comment(sim, "facebook", text="", image_urls=[url])
    value = answer["webhook"]["entry"][0]["changes"][0]["value"]
    assert "message" not in value and value["photo"] == url


# Instagram


async def test_an_instagram_comment_is_a_signed_comments_webhook(sim: TestClient, receiver: Receiver) -> None:
    answer = await public_comment(
        sim, "instagram", text="love this 😍", username="sam.doe", post_id=IG_MEDIA_2
    )
    [captured] = posted(receiver, "instagram")
    body = signed_meta_body(captured)
    assert body["object"] == "instagram" and answer["webhook"] == body
    value = only_change(body, IG_ID, "comments")
    assert re.fullmatch(r"[0-9]+", answer["id"])
    assert value == {
        "id": answer["id"],
        "text": "love this 😍",
        "from": {"id": IG_CUSTOMER, "username": "sam.doe"},
        "media": {"id": IG_MEDIA_2, "media_product_type": "FEED"},
    }
    assert b"\\ud83d\\ude0d" in captured.raw  # escaped as Meta sends it


async def test_an_instagram_reply_has_a_parent_id(sim: TestClient, receiver: Receiver) -> None:
    first = await public_comment(sim, "instagram")
    reply = await public_comment(sim, "instagram", parent_id=first["id"], user_id="6100000000000043")
    value = reply["webhook"]["entry"][0]["changes"][0]["value"]
    assert (value["parent_id"], value["media"]["id"]) == (first["id"], IG_MEDIA)
    assert (await public_comment(sim, "instagram", parent_id=reply["id"]))["parent_id"] == first["id"]


# X


async def test_an_x_comment_is_a_reply_to_the_brands_tweet(sim: TestClient, receiver: Receiver) -> None:
    answer = await public_comment(
        sim, "twitter", text="is the sale online too?", screen_name="fan_1", name="A Fan", followers=4200
    )
    [tweet] = answer["webhook"]["tweet_create_events"]
    assert tweet["id_str"] == answer["id"] and (answer["post_id"], answer["parent_id"]) == (X_POST, X_POST)
    assert tweet["text"] == "@loomandco is the sale online too?"
    assert (tweet["in_reply_to_status_id_str"], tweet["in_reply_to_status_id"]) == (X_POST, int(X_POST))
    assert tweet["in_reply_to_screen_name"] == "loomandco"
    assert tweet["display_text_range"] == [11, len(tweet["text"])]
    assert (tweet["user"]["screen_name"], tweet["user"]["followers_count"]) == ("fan_1", 4200)
    assert "media" not in tweet["entities"] and "extended_entities" not in tweet
    assert len(posted(receiver, "twitter")) == 1


async def test_an_x_reply_in_a_thread_names_both_handles(sim: TestClient, receiver: Receiver) -> None:
    first = await public_comment(sim, "twitter", screen_name="fan_1")
    answer = await public_comment(
        sim, "twitter", user_id="3000000043", parent_id=first["id"], text="same here"
    )
    [tweet] = answer["webhook"]["tweet_create_events"]
    assert tweet["text"] == "@fan_1 @loomandco same here"
    assert tweet["in_reply_to_status_id_str"] == first["id"] and tweet["in_reply_to_screen_name"] == "fan_1"
    assert tweet["display_text_range"] == [18, len(tweet["text"])]


async def test_a_mention_starts_its_own_thread(sim: TestClient, receiver: Receiver) -> None:
    mention = await (await sim.post("/_sim/x/mention", json={"user_id": "3000000042", "text": "hi"})).json()
    item = await listed(sim, mention["tweet_id"])
    assert (item["kind"], item["post_id"], item["parent_id"]) == ("mention", mention["tweet_id"], None)
    reply = await public_comment(sim, "twitter", user_id="3000000043", post_id=mention["tweet_id"])
    assert reply["parent_id"] == mention["tweet_id"]


# Redelivery and the listing


@pytest.mark.parametrize("platform", ["facebook", "instagram", "twitter"])
async def test_a_known_comment_id_redelivers_the_same_body(
    sim: TestClient, receiver: Receiver, platform: str
) -> None:
    first = await public_comment(sim, platform)
    again = await public_comment(sim, platform, comment_id=first["id"], text="ignored")
    bodies = [captured.raw for captured in posted(receiver, platform)]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert again["webhook"] == first["webhook"] and again["id"] == first["id"]
    assert len([i for i in (await listed(sim, first["post_id"]))["replies"] if i["id"] == first["id"]]) == 1


async def test_a_new_comment_id_is_used(sim: TestClient, receiver: Receiver) -> None:
    digits = FB_POST.split("_")[1]
    answer = await public_comment(sim, "facebook", comment_id=f"{digits}_777")
    assert answer["id"] == f"{digits}_777"


async def test_the_listing_shows_posts_threads_and_authors(sim: TestClient, receiver: Receiver) -> None:
    url = await uploaded_image(sim)
    first = await public_comment(sim, "facebook", name="Sam", followers=12, image_urls=[url])
    await public_comment(sim, "facebook", parent_id=first["id"], text="+1")
    listing = await (await sim.get("/_sim/public", params={"platform": "facebook"})).json()
    assert [post["id"] for post in listing["posts"]] == [FB_POST, FB_POST_2]
    post = listing["posts"][0]
    assert (post["kind"], post["from_brand"], post["author"]["id"], post["parent_id"]) == (
        "post",
        True,
        PAGE_ID,
        None,
    )
    [comment] = post["replies"]
    assert comment["author"] == {"id": FB_CUSTOMER, "name": "Sam", "username": None, "followers": 12}
    assert (comment["photo"], comment["hidden"], comment["from_brand"], comment["private_reply"]) == (
        url,
        False,
        False,
        False,
    )
    assert (comment["parent_id"], comment["post_id"]) == (FB_POST, FB_POST)
    assert [reply["text"] for reply in comment["replies"]] == ["+1"]
    everything = await (await sim.get("/_sim/public")).json()
    assert {post["platform"] for post in everything["posts"]} == {"facebook", "instagram", "twitter"}
    assert [p["id"] for p in everything["posts"] if p["platform"] == "instagram"] == [IG_MEDIA, IG_MEDIA_2]
    assert (await sim.get("/_sim/public", params={"platform": "myspace"})).status == 400


async def test_unreachable_webhook_is_a_502_but_the_comment_exists() -> None:
    client = TestClient(TestServer(create_app(make_config("http://127.0.0.1:9/webhooks"))))
    await client.start_server()
    try:
        response = await client.post(
            "/_sim/public_comment", json={"platform": "instagram", "user_id": IG_CUSTOMER, "text": "hi"}
        )
        answer = await response.json()
        assert response.status == 502 and "could not deliver" in answer["error"]
        assert (await listed(client, answer["id"]))["text"] == "hi"
    finally:
        await client.close()


# Refusals


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"platform": "myspace"}, "platform must be one of facebook, instagram, twitter"),
        ({"platform": "facebook", "username": "x"}, "not for facebook comments: username"),
        ({"platform": "instagram", "name": "x"}, "not for instagram comments: name"),
        ({"platform": "twitter", "username": "x"}, "not for X tweets: username"),
        ({"platform": "facebook", "mid": "m_1"}, "not for facebook comments: mid"),
        ({"platform": "facebook", "user_id": ""}, "user_id"),
        ({"platform": "facebook", "user_id": PAGE_ID}, "brand's own"),
        ({"platform": "instagram", "user_id": "sim-1"}, "digits"),
        ({"platform": "instagram", "user_id": IG_ID}, "brand's own"),
        ({"platform": "twitter", "user_id": "1500000000000000001"}, "brand's own"),
        ({"platform": "facebook", "text": 5}, "text must be a string"),
        ({"platform": "facebook", "text": ""}, "give text and/or image_urls"),
        ({"platform": "instagram", "text": " "}, "give text"),
        ({"platform": "facebook", "text": "x" * 8001}, "at most 8000"),
        ({"platform": "instagram", "text": "x" * 2201}, "at most 2200"),
        ({"platform": "instagram", "image_urls": ["http://127.0.0.1/_sim/media/a"]}, "carry no photo"),
        ({"platform": "facebook", "image_urls": ["https://example.com/a.png"]}, "uploaded to this simulator"),
        ({"platform": "facebook", "image_urls": "http://x"}, "list of one URL"),
        ({"platform": "twitter", "image_urls": ["https://example.com/a.png"]}, "uploaded to this simulator"),
        ({"platform": "facebook", "post_id": IG_MEDIA}, "not a post on facebook"),
        ({"platform": "instagram", "post_id": FB_POST}, "not a post on instagram"),
        ({"platform": "twitter", "post_id": "1"}, "not a post on twitter"),
        ({"platform": "facebook", "parent_id": FB_POST}, "not a comment"),
        ({"platform": "facebook", "parent_id": "1_2"}, "not a comment"),
        ({"platform": "facebook", "comment_id": "123"}, "<post digits>_<digits>"),
        ({"platform": "facebook", "comment_id": "999_1"}, "starts with 122100000000000001_"),
        ({"platform": "facebook", "comment_id": FB_POST}, "one of the brand's posts"),
        ({"platform": "instagram", "comment_id": "abc"}, "digits"),
        ({"platform": "twitter", "comment_id": X_POST}, "one of the brand's posts"),
        ({"platform": "facebook", "followers": -1}, "followers"),
        ({"platform": "twitter", "followers": "many"}, "followers"),
        ({"platform": "instagram", "username": "has space"}, "username"),
        ({"platform": "twitter", "screen_name": "has space"}, "screen_name"),
    ],
)
async def test_refusals(sim: TestClient, receiver: Receiver, fields: dict[str, Any], fragment: str) -> None:
    platform = fields.get("platform", "facebook")
    user = {"facebook": FB_CUSTOMER, "instagram": IG_CUSTOMER}.get(platform, "3000000042")
    body = {"user_id": user, "text": "hello", **fields}
    response = await sim.post("/_sim/public_comment", json=body)
    assert response.status == 400
    assert fragment in (await response.json())["error"]
    assert receiver.requests == []


async def test_a_parent_under_another_post_is_refused(sim: TestClient, receiver: Receiver) -> None:
    first = await public_comment(sim, "facebook")
    response = await sim.post(
        "/_sim/public_comment",
        json={
            "platform": "facebook",
            "user_id": "u2",
            "text": "x",
            "post_id": FB_POST_2,
            "parent_id": first["id"],
        },
    )
    assert response.status == 400 and "not" in (await response.json())["error"]


async def test_the_body_must_be_a_json_object(sim: TestClient) -> None:
    assert (await sim.post("/_sim/public_comment", data=b"nope")).status == 400
    assert (await sim.post("/_sim/public_comment", json=["facebook"])).status == 400
