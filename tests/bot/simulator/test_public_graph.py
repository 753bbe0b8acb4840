"""The fake Graph API's public routes: replies under comments, hiding, our own comments' webhooks."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.simulator.keys import STATE_KEY

from .conftest import APP_SECRET, IG_ID, IG_TOKEN, PAGE_ID, PAGE_TOKEN, Receiver, graph_error
from .public_support import (
    FB_POST,
    IG_MEDIA,
    actions,
    graph_post,
    listed,
    posted,
    public_comment,
    signed_meta_body,
)
from .x_support import wait_for


async def fb_comment(sim: TestClient) -> str:
    return (await public_comment(sim, "facebook"))["id"]


async def ig_comment(sim: TestClient) -> str:
    return (await public_comment(sim, "instagram"))["id"]


def unsupported(answer: dict[str, Any], node: str) -> None:
    error = graph_error(answer)
    assert (error["code"], error["error_subcode"], error["type"]) == (100, 33, "GraphMethodException")
    assert error["message"] == (
        f"Unsupported post request. Object with ID '{node}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation."
    )


# Replies


async def test_a_facebook_reply_answers_a_new_comment_id(sim: TestClient, receiver: Receiver) -> None:
    comment_id = await fb_comment(sim)
    status, answer = await graph_post(sim, f"{comment_id}/comments", message="Yes, in XL too!")
    assert status == 200 and set(answer) == {"id"}
    assert answer["id"].startswith(FB_POST.split("_")[1] + "_") and answer["id"] != comment_id
    reply = await listed(sim, answer["id"])
    assert (reply["parent_id"], reply["from_brand"], reply["text"]) == (comment_id, True, "Yes, in XL too!")
    assert reply["author"]["id"] == PAGE_ID


async def test_the_pages_own_comment_comes_back_as_a_feed_webhook(
    sim: TestClient, receiver: Receiver
) -> None:
    comment_id = await fb_comment(sim)
    _, answer = await graph_post(sim, f"{comment_id}/comments", message="Thanks!")
    await wait_for(lambda: len(posted(receiver, "facebook")) == 2)
    body = signed_meta_body(posted(receiver, "facebook")[1])
    [entry] = body["entry"]
    assert body["object"] == "page" and entry["id"] == PAGE_ID
    value = entry["changes"][0]["value"]
    assert (value["item"], value["verb"], value["comment_id"]) == ("comment", "add", answer["id"])
    assert (value["post_id"], value["parent_id"], value["message"]) == (FB_POST, comment_id, "Thanks!")
    assert value["from"] == {"id": PAGE_ID, "name": "Loom & Co."}
    public = sim.server.app[STATE_KEY].public
    await wait_for(lambda: public.actions()[0].own_webhook is not None)  # noted once it is delivered
    [action] = await actions(sim)
    assert action["own_webhook"]["status"] == 200 and action["own_webhook"]["webhook"] == body


async def test_an_instagram_reply_and_its_own_comments_webhook(sim: TestClient, receiver: Receiver) -> None:
    comment_id = await ig_comment(sim)
    status, answer = await graph_post(sim, f"{comment_id}/replies", token=IG_TOKEN, message="DM us!")
    assert status == 200 and answer["id"].isdigit()
    await wait_for(lambda: len(posted(receiver, "instagram")) == 2)
    body = signed_meta_body(posted(receiver, "instagram")[1])
    assert body["object"] == "instagram" and body["entry"][0]["id"] == IG_ID
    assert body["entry"][0]["changes"][0] == {
        "field": "comments",
        "value": {
            "id": answer["id"],
            "text": "DM us!",
            "from": {"id": IG_ID, "username": "loomandco"},
            "media": {"id": IG_MEDIA, "media_product_type": "FEED"},
            "parent_id": comment_id,
        },
    }


async def test_an_instagram_reply_to_a_reply_goes_under_the_top_level_comment(sim: TestClient) -> None:
    top = await ig_comment(sim)
    nested = (await public_comment(sim, "instagram", parent_id=top))["id"]
    _, answer = await graph_post(sim, f"{nested}/replies", token=IG_TOKEN, message="hi")
    assert (await listed(sim, answer["id"]))["parent_id"] == top


async def test_the_message_may_come_in_the_query_or_a_json_body(sim: TestClient) -> None:
    comment_id = await fb_comment(sim)
    by_query = await sim.post(
        f"/v21.0/{comment_id}/comments", params={"access_token": PAGE_TOKEN, "message": "one"}
    )
    by_json = await sim.post(
        f"/v21.0/{comment_id}/comments",
        json={"message": "two"},
        headers={"Authorization": f"Bearer {PAGE_TOKEN}"},
    )
    by_form_token = await sim.post(
        f"/v21.0/{comment_id}/comments", data={"message": "three", "access_token": PAGE_TOKEN}
    )
    assert [by_query.status, by_json.status, by_form_token.status] == [200, 200, 200]
    texts = [reply["text"] for reply in (await listed(sim, comment_id))["replies"]]
    assert texts == ["one", "two", "three"]


async def test_the_page_can_comment_on_its_own_post(sim: TestClient) -> None:
    status, answer = await graph_post(sim, f"{FB_POST}/comments", message="Restocked today!")
    assert status == 200
    assert (await listed(sim, answer["id"]))["parent_id"] == FB_POST


@pytest.mark.parametrize(
    ("path", "token", "fields", "fragment"),
    [
        ("{fb}/comments", PAGE_TOKEN, {}, "The parameter message is required"),
        ("{fb}/comments", PAGE_TOKEN, {"message": "   "}, "The parameter message is required"),
        ("{fb}/comments", PAGE_TOKEN, {"message": "x" * 8001}, "at most 8000"),
        ("{ig}/replies", IG_TOKEN, {"message": "x" * 2201}, "at most 2200"),
    ],
)
async def test_message_limits(
    sim: TestClient, path: str, token: str, fields: dict[str, str], fragment: str
) -> None:
    target = path.format(fb=await fb_comment(sim), ig=await ig_comment(sim))
    status, answer = await graph_post(sim, target, token=token, **fields)
    assert status == 400
    error = graph_error(answer)
    assert error["code"] == 100 and fragment in error["message"]


async def test_the_longest_messages_are_accepted(sim: TestClient) -> None:
    assert (await graph_post(sim, f"{await fb_comment(sim)}/comments", message="x" * 8000))[0] == 200
    ig = await ig_comment(sim)
    assert (await graph_post(sim, f"{ig}/replies", token=IG_TOKEN, message="x" * 2200))[0] == 200


@pytest.mark.parametrize(
    ("path", "token"),
    [
        ("1234_5678/comments", PAGE_TOKEN),  # no such comment
        ("{ig}/comments", PAGE_TOKEN),  # an Instagram comment is not the Page's
        ("{fb}/replies", PAGE_TOKEN),  # Facebook has no replies edge
        ("{fb}/replies", IG_TOKEN),
        ("{ig}/comments", IG_TOKEN),  # Instagram replies go through /replies
        (f"{IG_MEDIA}/replies", IG_TOKEN),  # media take comments, not replies
    ],
)
async def test_unknown_or_wrong_targets(sim: TestClient, receiver: Receiver, path: str, token: str) -> None:
    target = path.format(fb=await fb_comment(sim), ig=await ig_comment(sim))
    status, answer = await graph_post(sim, target, token=token, message="hi")
    assert status == 400
    unsupported(answer, target.split("/")[0])
    assert len(receiver.requests) == 2  # only the two customers' comments


async def test_instagram_hidden_comments_take_no_reply(sim: TestClient) -> None:
    comment_id = await ig_comment(sim)
    assert (await graph_post(sim, comment_id, token=IG_TOKEN, hide="true"))[0] == 200
    status, answer = await graph_post(sim, f"{comment_id}/replies", token=IG_TOKEN, message="hi")
    assert status == 400 and "Hidden comments" in graph_error(answer)["message"]


@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_a_bad_token_is_refused_like_graph(sim: TestClient, token: str | None) -> None:
    comment_id = await fb_comment(sim)
    response = await sim.post(
        f"/v21.0/{comment_id}/comments",
        data={"message": "hi"},
        params={} if token is None else {"access_token": token},
    )
    assert response.status == 400
    assert graph_error(await response.json())["code"] == 190
    assert "invalid_token" in response.headers["WWW-Authenticate"]
    [action] = await actions(sim)
    assert (action["platform"], action["accepted"], action["status"]) == (None, False, 400)


async def test_appsecret_proof_is_checked_when_sent(sim: TestClient) -> None:
    comment_id = await fb_comment(sim)
    proof = hmac.new(APP_SECRET.encode(), PAGE_TOKEN.encode(), hashlib.sha256).hexdigest()
    assert (await graph_post(sim, f"{comment_id}/comments", message="a", appsecret_proof=proof))[0] == 200
    status, answer = await graph_post(sim, f"{comment_id}/comments", message="a", appsecret_proof="00")
    assert status == 400 and "appsecret_proof" in graph_error(answer)["message"]


# Hiding


@pytest.mark.parametrize(
    ("platform", "token", "name"), [("facebook", PAGE_TOKEN, "is_hidden"), ("instagram", IG_TOKEN, "hide")]
)
async def test_hide_and_unhide(sim: TestClient, platform: str, token: str, name: str) -> None:
    comment_id = (await public_comment(sim, platform))["id"]
    assert await graph_post(sim, comment_id, token=token, **{name: "true"}) == (200, {"success": True})
    assert (await listed(sim, comment_id))["hidden"] is True
    assert await graph_post(sim, comment_id, token=token, **{name: "true"}) == (200, {"success": True})
    assert await graph_post(sim, comment_id, token=token, **{name: "false"}) == (200, {"success": True})
    assert (await listed(sim, comment_id))["hidden"] is False
    recorded = await actions(sim, platform=platform)
    assert [(a["kind"], a["target_id"], a["accepted"]) for a in recorded] == [
        ("hide", comment_id, True),
        ("hide", comment_id, True),
        ("unhide", comment_id, True),
    ]


@pytest.mark.parametrize(
    ("token", "fields", "fragment"),
    [
        (PAGE_TOKEN, {}, "is_hidden must be true or false"),
        (PAGE_TOKEN, {"is_hidden": "maybe"}, "is_hidden must be true or false"),
        (PAGE_TOKEN, {"hide": "true"}, "is_hidden must be true or false"),
        (IG_TOKEN, {"is_hidden": "true"}, "hide must be true or false"),
    ],
)
async def test_hide_parameters(sim: TestClient, token: str, fields: dict[str, str], fragment: str) -> None:
    comment_id = (await public_comment(sim, "facebook" if token == PAGE_TOKEN else "instagram"))["id"]
    status, answer = await graph_post(sim, comment_id, token=token, **fields)
    assert status == 400 and fragment in graph_error(answer)["message"]
    assert (await listed(sim, comment_id))["hidden"] is False


async def test_hiding_needs_a_known_comment_and_not_our_own(sim: TestClient) -> None:
    unsupported((await graph_post(sim, "1_2", is_hidden="true"))[1], "1_2")
    unsupported((await graph_post(sim, FB_POST, is_hidden="true"))[1], FB_POST)
    comment_id = await fb_comment(sim)
    _, ours = await graph_post(sim, f"{comment_id}/comments", message="hi")
    status, answer = await graph_post(sim, ours["id"], is_hidden="true")
    assert status == 400 and "own comments" in graph_error(answer)["message"]


# Injected failures and the record of calls


async def test_injected_failures_apply_to_public_calls(sim: TestClient, receiver: Receiver) -> None:
    comment_id = await fb_comment(sim)
    rule = {"status": 503, "kind": "public_reply", "platform": "messenger", "recipient": comment_id}
    assert (await sim.post("/_sim/fail", json=rule)).status == 200
    status, answer = await graph_post(sim, f"{comment_id}/comments", message="hi")
    assert status == 503 and answer["error"]["is_transient"] is True
    assert (await sim.post("/_sim/fail", json={"status": 429, "kind": "hide"})).status == 200
    assert (await graph_post(sim, comment_id, is_hidden="true"))[0] == 429
    assert (await graph_post(sim, f"{comment_id}/comments", message="hi"))[0] == 200
    recorded = await actions(sim)
    assert [(a["kind"], a["status"], a["accepted"]) for a in recorded] == [
        ("public_reply", 503, False),
        ("hide", 429, False),
        ("public_reply", 200, True),
    ]
    await wait_for(lambda: len(posted(receiver, "facebook")) == 2)  # only the accepted reply's webhook


async def test_each_call_is_recorded_once(sim: TestClient) -> None:
    comment_id = await fb_comment(sim)
    await graph_post(sim, f"{comment_id}/comments", message="one")
    await graph_post(sim, f"{comment_id}/comments", message="")
    [first, second] = await actions(sim)
    assert (first["platform"], first["kind"], first["target_id"], first["text"]) == (
        "facebook",
        "public_reply",
        comment_id,
        "one",
    )
    assert first["accepted"] is True and first["result_id"] == first["response"]["id"]
    assert first["endpoint"] == f"/v21.0/{comment_id}/comments" and isinstance(first["time"], float)
    assert (second["accepted"], second["result_id"], second["response"]["error"]["code"]) == (
        False,
        None,
        100,
    )
    assert await actions(sim, kind="hide") == []
    assert (await sim.get("/_sim/public_actions", params={"kind": "like"})).status == 400
    assert (await sim.delete("/_sim/public_actions")).status == 200
    assert await actions(sim) == []
