"""Instagram mentions: the `mentions` webhook, answering a mention, what the brand may not do with one.

Reading a mention through Graph is in test_public_instagram_mention_reads.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from .conftest import IG_ID, IG_TOKEN, PAGE_ID, PAGE_TOKEN, Receiver, graph_error, send
from .public_support import (
    IG_CUSTOMER,
    IG_MEDIA,
    actions,
    caption_mention,
    graph_get,
    graph_post,
    ig_mention,
    listed,
    posted,
    signed_meta_body,
    unsupported_request,
    uploaded_image,
)


def mentions_change(body: dict[str, Any]) -> dict[str, Any]:
    """The value of a `mentions` webhook, after checking everything around it."""
    assert set(body) == {"object", "entry"} and body["object"] == "instagram"
    [entry] = body["entry"]
    assert set(entry) == {"id", "time", "changes"} and entry["id"] == IG_ID
    assert isinstance(entry["time"], int) and abs(entry["time"] - time.time()) < 5
    [change] = entry["changes"]
    assert set(change) == {"field", "value"} and change["field"] == "mentions"
    return change["value"]


# The webhook


async def test_a_caption_mention_is_a_signed_mentions_webhook_with_the_media_id_only(
    sim: TestClient, receiver: Receiver
) -> None:
    answer = await caption_mention(sim, text="New shirt from @loomandco 😍", username="sam.doe")
    [captured] = posted(receiver, "instagram")
    body = signed_meta_body(captured)
    assert mentions_change(body) == {"media_id": answer["id"]}
    assert answer["webhook"] == body and (answer["status"], answer["body"]) == (200, "EVENT_RECEIVED")
    assert (answer["post_id"], answer["parent_id"]) == (answer["id"], None) and answer["id"].isdigit()
    assert captured.raw.startswith(b'{"object":"instagram","entry":[{"id":"' + IG_ID.encode())  # compact


async def test_a_comment_mention_names_the_comment_and_the_media(sim: TestClient, receiver: Receiver) -> None:
    answer = await ig_mention(sim, "comment", text="@loomandco do you ship to Norway?")
    body = signed_meta_body(posted(receiver, "instagram")[0])
    assert mentions_change(body) == {"media_id": answer["post_id"], "comment_id": answer["id"]}
    assert answer["parent_id"] == answer["post_id"] != answer["id"]


async def test_the_account_is_put_in_front_unless_the_text_names_it(sim: TestClient) -> None:
    plain = await caption_mention(sim, text="my new favourite shirt")
    named = await ig_mention(sim, "comment", text="ask @LoomAndCo about it")
    assert (await listed(sim, plain["id"]))["text"] == "@loomandco my new favourite shirt"
    assert (await listed(sim, named["id"]))["text"] == "ask @LoomAndCo about it"
    lookalike = await ig_mention(sim, "comment", text="@loomandco.fan said so")
    assert (await listed(sim, lookalike["id"]))["text"] == "@loomandco @loomandco.fan said so"


# Answering a mention


async def test_replying_to_a_caption_mention(sim: TestClient, receiver: Receiver) -> None:
    media_id = (await caption_mention(sim))["id"]
    status, answer = await graph_post(
        sim, f"{IG_ID}/mentions", token=IG_TOKEN, media_id=media_id, message="Thanks!"
    )
    assert status == 200 and set(answer) == {"id"} and answer["id"].isdigit()
    reply = await listed(sim, answer["id"])
    assert (reply["post_id"], reply["parent_id"], reply["from_brand"], reply["text"]) == (
        media_id,
        media_id,
        True,
        "Thanks!",
    )
    assert reply["author"]["username"] == "loomandco"
    [action] = await actions(sim)
    assert (action["platform"], action["kind"], action["target_id"], action["text"], action["accepted"]) == (
        "instagram",
        "public_reply",
        media_id,
        "Thanks!",
        True,
    )
    assert action["endpoint"] == f"/v21.0/{IG_ID}/mentions" and action["result_id"] == answer["id"]
    _, read = await graph_get(sim, f"mentioned_media.media_id({media_id}){{comments_count}}")
    assert read["mentioned_media"]["comments_count"] == 1
    await asyncio.sleep(0.2)
    assert len(posted(receiver, "instagram")) == 1  # no webhook follows: the media is not ours
    assert (await actions(sim))[0]["own_webhook"] is None


async def test_replying_to_a_comment_mention_goes_under_the_comment(sim: TestClient) -> None:
    mention = await ig_mention(sim, "comment")
    response = await sim.post(
        f"/v21.0/{IG_ID}/mentions",
        json={"media_id": mention["post_id"], "comment_id": mention["id"], "message": "Yes we do!"},
        headers={"Authorization": f"Bearer {IG_TOKEN}"},
    )
    assert response.status == 200
    reply = await listed(sim, (await response.json())["id"])
    assert (reply["post_id"], reply["parent_id"]) == (mention["post_id"], mention["id"])
    [action] = await actions(sim)
    assert (action["target_id"], action["accepted"]) == (mention["id"], True)
    by_query = await sim.post(
        f"/v21.0/{IG_ID}/mentions",
        params={
            "access_token": IG_TOKEN,
            "media_id": mention["post_id"],
            "comment_id": mention["id"],
            "message": "2",
        },
    )
    assert by_query.status == 200


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"message": "hi"}, "The parameter media_id is required"),
        ({"media_id": "{m}"}, "The parameter message is required"),
        ({"media_id": "{m}", "message": "x" * 2201}, "at most 2200"),
        ({"media_id": IG_MEDIA, "message": "hi"}, "not a media whose caption mentions this account"),
        ({"media_id": "{other}", "message": "hi"}, "not a media whose caption mentions this account"),
        ({"media_id": "{m}", "comment_id": "{c}", "message": "hi"}, "not a comment mentioning this account"),
        (
            {"media_id": "{other}", "comment_id": "{m}", "message": "hi"},
            "not a comment mentioning this account",
        ),
    ],
)
async def test_reply_refusals(sim: TestClient, fields: dict[str, str], fragment: str) -> None:
    media_id = (await caption_mention(sim))["id"]
    comment = await ig_mention(sim, "comment")
    values = {k: v.format(m=media_id, c=comment["id"], other=comment["post_id"]) for k, v in fields.items()}
    status, answer = await graph_post(sim, f"{IG_ID}/mentions", token=IG_TOKEN, **values)
    assert status == 400
    error = graph_error(answer)
    assert error["code"] == 100 and fragment in error["message"]
    [action] = await actions(sim)
    assert (action["kind"], action["accepted"], action["status"]) == ("public_reply", False, 400)


async def test_the_longest_reply_is_accepted(sim: TestClient) -> None:
    media_id = (await caption_mention(sim))["id"]
    assert (
        await graph_post(sim, f"{IG_ID}/mentions", token=IG_TOKEN, media_id=media_id, message="x" * 2200)
    )[0] == 200


async def test_replying_needs_the_instagram_token_on_the_account(sim: TestClient) -> None:
    media_id = (await caption_mention(sim))["id"]
    status, answer = await graph_post(sim, f"{IG_ID}/mentions", token="nope", media_id=media_id, message="hi")
    assert status == 400 and graph_error(answer)["code"] == 190
    status, answer = await graph_post(
        sim, f"{IG_ID}/mentions", token=PAGE_TOKEN, media_id=media_id, message="hi"
    )
    unsupported_request(answer, IG_ID, "post")
    status, answer = await graph_post(
        sim, f"{PAGE_ID}/mentions", token=IG_TOKEN, media_id=media_id, message="hi"
    )
    unsupported_request(answer, PAGE_ID, "post")
    recorded = await actions(sim)
    assert [(a["platform"], a["accepted"]) for a in recorded] == [
        (None, False),
        ("facebook", False),
        ("instagram", False),
    ]


# What the brand may not do with a mention


async def test_a_mention_cannot_be_hidden_or_answered_through_the_comment_edges(sim: TestClient) -> None:
    caption = (await caption_mention(sim))["id"]
    comment = await ig_mention(sim, "comment")
    _, ours = await graph_post(
        sim,
        f"{IG_ID}/mentions",
        token=IG_TOKEN,
        media_id=comment["post_id"],
        comment_id=comment["id"],
        message="hi",
    )
    for node in (comment["id"], caption, comment["post_id"], ours["id"]):
        status, answer = await graph_post(sim, node, token=IG_TOKEN, hide="true")
        assert status == 400
        unsupported_request(answer, node, "post")
    for path in (
        f"{comment['id']}/replies",
        f"{caption}/comments",
        f"{comment['post_id']}/comments",
        f"{ours['id']}/replies",
    ):
        status, answer = await graph_post(sim, path, token=IG_TOKEN, message="hi")
        assert status == 400
        unsupported_request(answer, path.split("/")[0], "post")
    hides = await actions(sim, kind="hide")
    assert len(hides) == 4 and not any(a["accepted"] for a in hides)
    assert (await listed(sim, comment["id"]))["hidden"] is False


async def test_a_mention_takes_no_private_reply(sim: TestClient) -> None:
    caption = (await caption_mention(sim))["id"]
    comment = (await ig_mention(sim, "comment"))["id"]
    body = {"recipient": {"comment_id": comment}, "message": {"text": "DM"}}
    status, answer = await send(sim, body, token=IG_TOKEN, node=IG_ID)
    assert status == 400 and graph_error(answer)["code"] == 10903
    body = {"recipient": {"comment_id": caption}, "message": {"text": "DM"}}
    status, answer = await send(sim, body, token=IG_TOKEN, node=IG_ID)
    error = graph_error(answer)
    assert status == 400 and (error["code"], error["error_subcode"]) == (100, 2018001)
    recorded = await actions(sim, kind="private_reply")
    assert [(a["target_id"], a["accepted"]) for a in recorded] == [(comment, False), (caption, False)]
    assert (await listed(sim, comment))["private_reply"] is False


async def test_customers_comment_only_under_the_brands_media(sim: TestClient, receiver: Receiver) -> None:
    caption = (await caption_mention(sim))["id"]
    comment = await ig_mention(sim, "comment")
    _, ours = await graph_post(sim, f"{IG_ID}/mentions", token=IG_TOKEN, media_id=caption, message="hi")
    for fields in (
        {"post_id": caption},
        {"post_id": comment["post_id"]},
        {"parent_id": ours["id"]},
        {"parent_id": comment["id"]},
    ):
        body = {"platform": "instagram", "user_id": IG_CUSTOMER, "text": "hello", **fields}
        response = await sim.post("/_sim/public_comment", json=body)
        assert response.status == 400, fields
    assert len(posted(receiver, "instagram")) == 2  # the two mentions only


# The listing, redelivery and the control route's refusals


async def test_the_listing_shows_mentions_with_photos_and_our_replies(sim: TestClient) -> None:
    url = await uploaded_image(sim)
    caption = await ig_mention(sim, "caption", image_urls=[url], text="fits great", username="sam.doe")
    comment = await ig_mention(sim, "comment", text="@loomandco hi")
    await graph_post(sim, f"{IG_ID}/mentions", token=IG_TOKEN, media_id=caption["id"], message="So glad!")
    listing = await (await sim.get("/_sim/public", params={"platform": "instagram"})).json()
    roots = {post["id"]: post for post in listing["posts"]}
    mine = roots[caption["id"]]
    assert (mine["kind"], mine["photo"], mine["text"], mine["from_brand"], mine["parent_id"]) == (
        "mention",
        url,
        "@loomandco fits great",
        False,
        None,
    )
    assert mine["author"]["username"] == "sam.doe" and [r["text"] for r in mine["replies"]] == ["So glad!"]
    other = roots[comment["post_id"]]
    assert (other["kind"], other["from_brand"], other["author"]["username"]) == (
        "post",
        False,
        "weekend.finds",
    )
    assert other["photo"].endswith("/static/stock-media.png")
    [under] = other["replies"]
    assert (under["kind"], under["id"], under["text"], under["parent_id"]) == (
        "mention",
        comment["id"],
        "@loomandco hi",
        comment["post_id"],
    )


@pytest.mark.parametrize("kind", ["caption", "comment"])
async def test_a_known_id_redelivers_the_same_mention(sim: TestClient, receiver: Receiver, kind: str) -> None:
    first = await (caption_mention(sim) if kind == "caption" else ig_mention(sim, "comment"))
    again = await ig_mention(sim, kind, comment_id=first["id"], text="ignored")
    bodies = [captured.raw for captured in posted(receiver, "instagram")]
    assert len(bodies) == 2 and bodies[0] == bodies[1] and again["webhook"] == first["webhook"]
    assert again["id"] == first["id"]
    listing = await (await sim.get("/_sim/public", params={"platform": "instagram"})).json()
    assert len(listing["posts"]) == 3  # the brand's two media and the one mention's


async def test_a_new_id_is_used(sim: TestClient) -> None:
    answer = await caption_mention(sim, comment_id="17999000000000001")
    assert answer["id"] == answer["post_id"] == "17999000000000001"
    assert mentions_change(answer["webhook"]) == {"media_id": "17999000000000001"}


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"mention": "story"}, "mention must be one of caption, comment"),
        ({"mention": "caption"}, "a caption mention is a photo post: give image_urls"),
        ({"mention": "caption", "image_urls": ["https://example.com/a.png"]}, "uploaded to this simulator"),
        ({"mention": "comment", "post_id": IG_MEDIA}, "not for instagram mentions: post_id"),
        ({"mention": "comment", "parent_id": "1"}, "not for instagram mentions: parent_id"),
        ({"mention": "comment", "name": "Sam"}, "not for instagram mentions: name"),
        ({"mention": "comment", "user_id": "sim-1"}, "digits"),
        ({"mention": "comment", "user_id": IG_ID}, "brand's own"),
        ({"mention": "comment", "text": "x" * 2190}, "at most 2200"),
        ({"mention": "comment", "text": 5}, "text must be a string"),
        ({"mention": "comment", "comment_id": "abc"}, "digits"),
        ({"mention": "comment", "comment_id": IG_MEDIA}, "one of the brand's posts"),
    ],
)
async def test_refusals(sim: TestClient, receiver: Receiver, fields: dict[str, Any], fragment: str) -> None:
    body = {"platform": "instagram", "user_id": IG_CUSTOMER, "text": "hello", **fields}
    response = await sim.post("/_sim/public_comment", json=body)
    assert response.status == 400
    assert fragment in (await response.json())["error"]
    assert receiver.requests == []
