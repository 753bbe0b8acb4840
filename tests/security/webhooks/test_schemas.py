"""Signed payloads of the wrong shape: the item is left out (or the body is a 400), never a 500.

Each case was a 500 (or, for `text: 123`, a number handed to the assistant) before the declared
schemas of `connectors.meta_schema` and `connectors.x_schema` (runtime A, real HTTP).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from connectors.agent_reply import BadAgentReply, parse_agent_reply
from connectors.metrics import value

from .conftest import fixtures, fresh

Edit = Callable[[dict], Any]


def meta_item(body: dict) -> dict:
    return body["entry"][0]["messaging"][0]


META_EDITS: dict[str, Edit] = {
    "message is a string": lambda b: meta_item(b).update(message="hi"),
    "attachments is a number": lambda b: meta_item(b)["message"].update(attachments=5),
    "an attachment is a string": lambda b: meta_item(b)["message"].update(attachments=["x"]),
    "quick_reply is a string": lambda b: meta_item(b)["message"].update(quick_reply="x"),
    "postback is a string": lambda b: meta_item(b).update(postback="x"),
    "referral is a number": lambda b: meta_item(b).update(referral=5),
    "text is a number": lambda b: meta_item(b)["message"].update(text=123),
    "text is a list": lambda b: meta_item(b)["message"].update(text=["hi"]),
    "sender is a string": lambda b: meta_item(b).update(sender="2401234567890123"),
    "sender id is an object": lambda b: meta_item(b).update(sender={"id": {"id": 1}}),
    "timestamp is a string": lambda b: meta_item(b).update(timestamp="soon"),
    "pass_thread_control is a number": lambda b: meta_item(b).update(pass_thread_control=5),
    "reply_to.story is a string": lambda b: meta_item(b)["message"].update(reply_to={"story": "x"}),
    "item is a list": lambda b: b["entry"][0]["messaging"].__setitem__(0, [1]),
}


@pytest.mark.parametrize("platform", ["messenger", "instagram"])
@pytest.mark.parametrize("case", list(META_EDITS))
async def test_meta_items_of_the_wrong_shape_are_left_out(server, platform, case):
    body = fresh(fixtures(platform)["message__text"])
    META_EDITS[case](body)
    before = value("webhook_rejected", platform, "malformed_item")
    assert await server.post_json(platform, body) == (200, "EVENT_RECEIVED")
    await server.settle()
    assert server.received == [] and server.api_calls == []
    assert value("webhook_rejected", platform, "malformed_item") == before + 1


async def test_a_null_field_is_an_absent_field(server):
    body = fresh(fixtures("messenger")["message__text"])
    meta_item(body)["message"].update(quick_reply=None, attachments=None)
    assert (await server.post_json("messenger", body))[0] == 200
    await server.settle()
    [message] = server.received
    assert message.text == meta_item(body)["message"]["text"]


async def test_the_rest_of_a_batch_goes_on(server):
    body = fresh(fixtures("messenger")["batch__two_users_out_of_order"])
    answered = sum("message" in item for entry in body["entry"] for item in entry["messaging"])
    body["entry"][0]["messaging"][0]["message"]["text"] = {"$gt": ""}
    assert (await server.post_json("messenger", body))[0] == 200
    await server.settle()
    assert len(server.received) == answered - 1 == 2
    assert all(isinstance(m.text, str) for m in server.received)


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1.5e12", "true"])
async def test_a_timestamp_that_is_not_an_integer_is_left_out(server, number):
    body = fresh(fixtures("messenger")["message__text"])
    raw = json.dumps(body).replace(f'"timestamp": {meta_item(body)["timestamp"]}', f'"timestamp": {number}')
    assert number in raw
    assert await server.post("messenger", raw.encode()) == (200, "EVENT_RECEIVED")
    await server.settle()
    assert server.received == []


@pytest.mark.parametrize("platform", ["messenger", "instagram", "twitter"])
@pytest.mark.parametrize("depth", [33, 500, 100_000])
async def test_deep_nesting_is_a_400(server, platform, depth):
    name = "direct_message__text" if platform == "twitter" else "message__text"
    raw = json.dumps(fresh(fixtures(platform)[name])).encode()
    deep = b'{"x": ' + b"[" * depth + b"]" * depth + b", " + raw[1:]
    status, text = await server.post(platform, deep)
    assert status == 400 and "nested" in text
    await server.settle()
    assert server.received == []


@pytest.mark.parametrize("platform", ["messenger", "twitter"])
@pytest.mark.parametrize("raw", [b'{"object": NaN}', b'{"a": "\\ud800"}', b"\xff\xfe{}", b"[]", b"123"])
async def test_bodies_that_are_no_platform_json_are_a_400(server, platform, raw):
    assert (await server.post(platform, raw))[0] == 400


def dm(body: dict) -> dict:
    return body["direct_message_events"][0]


X_EDITS: dict[str, Edit] = {
    "message_create is a string": lambda b: dm(b).update(message_create="x"),
    "message_data is a number": lambda b: dm(b)["message_create"].update(message_data=5),
    "text is a number": lambda b: dm(b)["message_create"]["message_data"].update(text=123),
    "sender_id is a list": lambda b: dm(b)["message_create"].update(sender_id=[1]),
    "sender_id missing": lambda b: dm(b)["message_create"].pop("sender_id"),
    "created_timestamp is not digits": lambda b: dm(b).update(created_timestamp="yesterday"),
    "quick_reply_response is a string": lambda b: dm(b)["message_create"]["message_data"].update(
        quick_reply_response="x"
    ),
    "attachment is a list": lambda b: dm(b)["message_create"]["message_data"].update(attachment=[1]),
    "event is a string": lambda b: b["direct_message_events"].__setitem__(0, "x"),
}


@pytest.mark.parametrize("case", list(X_EDITS))
async def test_x_direct_messages_of_the_wrong_shape_are_left_out(server, case):
    body = fresh(fixtures("twitter")["direct_message__text"])
    X_EDITS[case](body)
    before = value("webhook_rejected", "twitter", "malformed_item")
    assert (await server.post_json("twitter", body))[0] == 200
    await server.settle()
    assert server.received == []
    assert value("webhook_rejected", "twitter", "malformed_item") == before + 1


@pytest.mark.parametrize("users", ["x", 5, [], {"3001969357": "x"}, {"3001969357": {"name": 5}}])
async def test_a_malformed_users_map_loses_the_names_not_the_message(server, users):
    body = fresh(fixtures("twitter")["direct_message__text"])
    body["users"] = users
    assert (await server.post_json("twitter", body))[0] == 200
    await server.settle()
    [message] = server.received
    assert message.text == "hey wheres my order 104523??" and message.metadata["sender_name"] is None


TWEET_EDITS: dict[str, Edit] = {
    "user is a string": lambda t: t.update(user="x"),
    "user_mentions is a string": lambda t: t["entities"].update(user_mentions="x"),
    "a mention is a number": lambda t: t["entities"].update(user_mentions=[5]),
    "text is an object": lambda t: t.update(text={"a": 1}),
    "timestamp_ms is a float": lambda t: t.update(timestamp_ms=1.5),
    "author without an id": lambda t: t.update(user={"screen_name": "jordanbrinks"}),
    "tweet without an id": lambda t: [t.pop("id"), t.pop("id_str")],
}


@pytest.mark.parametrize("case", list(TWEET_EDITS))
async def test_x_tweets_of_the_wrong_shape_are_left_out(server, case):
    body = fresh(fixtures("twitter")["tweet_create__mention"])
    good = copy.deepcopy(body["tweet_create_events"][0])
    TWEET_EDITS[case](body["tweet_create_events"][0])
    body["tweet_create_events"].append(good)  # the rest of the body goes on
    assert (await server.post_json("twitter", body))[0] == 200
    await server.settle()
    assert [m.external_id for m in server.mentions.saved] == [good["id_str"]]


@pytest.mark.parametrize("body", [{"for_user_id": ["1"]}, {"for_user_id": "1", "tweet_create_events": 5}])
async def test_x_bodies_that_are_not_the_envelope_are_a_400(server, body):
    assert (await server.post_json("twitter", copy.deepcopy(body)))[0] == 400


REPLY = b'{"conversation_id": "2401234567890123", "client_id": "r-1", "agent": {"id": 3, "name": "Ada"}, '


@pytest.mark.parametrize("raw", [b"[" * 100_000 + b"]" * 100_000, REPLY + b'"text": "hi \\udc00"}'])
def test_the_desks_agent_reply_body_is_decoded_with_the_same_bounds(raw):
    with pytest.raises(BadAgentReply):
        parse_agent_reply(raw)
