"""Private replies: the Send API with `recipient: {"comment_id"}`, once per comment, within 7 days."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.simulator.keys import STATE_KEY

from .conftest import IG_ID, IG_TOKEN, PAGE_TOKEN, graph_error, send
from .public_support import FB_CUSTOMER, IG_CUSTOMER, actions, graph_post, listed, public_comment

DAY = 24 * 3600.0


def private(comment_id: str, text: str = "Sent you the details in a DM", **extra: Any) -> dict[str, Any]:
    return {"recipient": {"comment_id": comment_id}, "message": {"text": text}, **extra}


async def test_a_private_reply_goes_to_the_commenter(sim: TestClient) -> None:
    comment_id = (await public_comment(sim, "facebook"))["id"]
    status, answer = await send(sim, private(comment_id))  # no messaging_type, as in Meta's examples
    assert status == 200
    assert answer["recipient_id"] == FB_CUSTOMER and answer["message_id"].startswith("m_")
    assert (await listed(sim, comment_id))["private_reply"] is True
    # Listed under the commenter, so the page shows it in their DM conversation.
    [record] = await (await sim.get("/_sim/sends", params={"recipient": FB_CUSTOMER})).json()
    assert record["body"] == private(comment_id) and record["accepted"] is True
    [action] = await actions(sim)
    assert (action["platform"], action["kind"], action["target_id"], action["text"]) == (
        "facebook",
        "private_reply",
        comment_id,
        "Sent you the details in a DM",
    )
    assert (action["accepted"], action["result_id"]) == (True, answer["message_id"])


async def test_an_instagram_private_reply_through_the_ig_account(sim: TestClient) -> None:
    comment_id = (await public_comment(sim, "instagram"))["id"]
    status, answer = await send(sim, private(comment_id), token=IG_TOKEN, node=IG_ID)
    assert (status, answer["recipient_id"]) == (200, IG_CUSTOMER)


async def test_only_one_private_reply_per_comment(sim: TestClient) -> None:
    comment_id = (await public_comment(sim, "facebook"))["id"]
    assert (await send(sim, private(comment_id)))[0] == 200
    status, answer = await send(sim, private(comment_id, "again"))
    assert status == 400
    error = graph_error(answer)
    assert (error["code"], error["message"]) == (10900, "(#10900) Activity already replied to")
    recorded = await actions(sim, kind="private_reply")
    assert [(a["accepted"], a["status"]) for a in recorded] == [(True, 200), (False, 400)]


async def test_a_refused_private_reply_does_not_use_up_the_comment(sim: TestClient) -> None:
    comment_id = (await public_comment(sim, "facebook"))["id"]
    assert (await send(sim, private(comment_id, "x" * 2001)))[0] == 400
    assert (await sim.post("/_sim/fail", json={"status": 500})).status == 200
    assert (await send(sim, private(comment_id)))[0] == 500
    assert (await send(sim, private(comment_id)))[0] == 200


@pytest.mark.parametrize(("age", "allowed"), [(7 * DAY - 60, True), (7 * DAY + 60, False)])
async def test_within_seven_days_of_the_comment(sim: TestClient, age: float, allowed: bool) -> None:
    comment_id = (await public_comment(sim, "facebook"))["id"]
    sim.server.app[STATE_KEY].public.get("facebook", comment_id).created_at -= age
    status, answer = await send(sim, private(comment_id))
    if allowed:
        assert status == 200
    else:
        assert status == 400 and graph_error(answer)["code"] == 10903


async def test_the_messaging_window_does_not_apply(sim: TestClient) -> None:
    comment_id = (await public_comment(sim, "facebook"))["id"]
    assert sim.server.app[STATE_KEY].last_inbound("messenger", FB_CUSTOMER) is None  # a comment opens none
    assert (await send(sim, private(comment_id, messaging_type="RESPONSE")))[0] == 200
    status, answer = await send(
        sim, {"recipient": {"id": FB_CUSTOMER}, "message": {"text": "hi"}, "messaging_type": "RESPONSE"}
    )
    assert status == 400 and graph_error(answer)["code"] == 10  # a DM still needs the window


async def test_unknown_comments_and_our_own_are_refused(sim: TestClient) -> None:
    status, answer = await send(sim, private("1_2"))
    assert status == 400
    error = graph_error(answer)
    assert (error["code"], error["error_subcode"]) == (100, 2018001)
    ig_comment = (await public_comment(sim, "instagram"))["id"]
    assert (
        graph_error((await send(sim, private(ig_comment)))[1])["error_subcode"] == 2018001
    )  # not the Page's
    comment_id = (await public_comment(sim, "facebook"))["id"]
    _, ours = await graph_post(sim, f"{comment_id}/comments", message="hi")
    status, answer = await send(sim, private(ours["id"]))
    assert status == 400 and graph_error(answer)["code"] == 10903


@pytest.mark.parametrize(
    ("recipient", "fragment"),
    [
        ({"id": "u1", "comment_id": "1_2"}, "exactly one of"),
        ({"comment_id": "1_2", "extra": 1}, "exactly one of"),
        ({"post_id": "1_2"}, "not supported by the simulator"),
        ({"comment_id": ""}, "recipient is required"),
    ],
)
async def test_recipient_shapes(sim: TestClient, recipient: dict[str, Any], fragment: str) -> None:
    status, answer = await send(sim, {"recipient": recipient, "message": {"text": "hi"}})
    assert status == 400 and fragment in graph_error(answer)["message"]


async def test_a_comment_cannot_be_typed_at(sim: TestClient) -> None:
    comment_id = (await public_comment(sim, "facebook"))["id"]
    status, answer = await send(sim, {"recipient": {"comment_id": comment_id}, "sender_action": "typing_on"})
    assert status == 400 and "sender_action needs recipient[id]" in graph_error(answer)["message"]


async def test_a_bad_token_is_recorded_without_a_platform(sim: TestClient) -> None:
    comment_id = (await public_comment(sim, "facebook"))["id"]
    assert (await send(sim, private(comment_id), token="nope"))[0] == 400
    [action] = await actions(sim)
    assert (action["platform"], action["accepted"], action["response"]["error"]["code"]) == (None, False, 190)
    assert (await send(sim, private(comment_id), token=PAGE_TOKEN))[0] == 200
