"""Public comments in, public actions out, on every channel: the simulator's platforms, a real database.

A customer comments (or mentions us on X) through the simulator, which signs the webhook as Meta or X
would; the channel stores it in a SQLite database migrated by the service's own command. The desk's
`public_action` route then replies in public or in private, hides and shows it, each through the
simulator's fake Graph / X API, which checks the calls as the platforms do (tokens, OAuth 1.0a,
targets, limits, one private reply per comment) and sends back the webhook of our own reply.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from connectors.mentions import MentionStore
from connectors.metrics import value

from .agent_reply_support import SIM, TOKEN, Stack, customer_id, start_stack

ROOT = Path(__file__).resolve().parents[2]
CHANNEL_OF = {"messenger": "facebook", "instagram": "instagram", "twitter": "twitter"}
SIM_PLATFORM = {"messenger": "facebook", "instagram": "instagram", "twitter": "twitter"}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> str:
    """A SQLite database migrated by the service's own command (runtime B), as `make run` does."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db')}/loom.db"
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([str(ROOT / ".venv" / "bin" / "bot"), "db", "upgrade"], env=env, check=True)
    return url


@pytest.fixture
async def stack(tmp_path, migrated) -> AsyncIterator[Stack]:
    async for running in start_stack(tmp_path):
        for channel in running.channels.values():
            channel.mentions = MentionStore(migrated)
        yield running


def stored(url: str, external_id: str) -> list[dict[str, Any]]:
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            sqlalchemy.text("SELECT * FROM mentions WHERE external_id = :id"), {"id": external_id}
        )
        found = [dict(row._mapping) for row in rows]
    engine.dispose()
    return found


async def comment(stack: Stack, route: str, text: str = "Where can I buy this?", **fields: Any) -> str:
    """A customer's comment (or X mention) delivered through the channel; its platform id."""
    user = customer_id()
    body = {"platform": SIM_PLATFORM[route], "user_id": user, "text": text, **fields}
    answer = await stack.sim("POST", "/_sim/public_comment", json=body)
    assert answer["status"] == 200, answer
    await stack.settle()
    return str(answer["id"])


async def act(stack: Stack, route: str, **body: Any) -> tuple[int, Any]:
    request = {"client_id": f"c-{uuid.uuid4().hex[:10]}", "actor": "ada", "text": "", **body}
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    url = f"{stack.url}/{route}/public_action"
    async with stack.http.post(url, data=json.dumps(request), headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def platform_calls(stack: Stack, kind: str | None = None) -> list[dict[str, Any]]:
    calls = await stack.sim("GET", "/_sim/public_actions")
    return [c for c in calls if kind is None or c["kind"] == kind]


async def own_reply_delivered(stack: Stack, call_id: Any) -> dict[str, Any]:
    """Wait until the simulator delivered the webhook of our own reply; that delivery."""
    for _ in range(200):
        call = next(c for c in await platform_calls(stack) if c["id"] == call_id)
        if call.get("own_webhook"):
            await stack.settle()
            return call["own_webhook"]
        await asyncio.sleep(0.02)
    raise AssertionError("the webhook of our own reply never came")


@pytest.mark.parametrize("route", ["messenger", "instagram", "twitter"])
async def test_a_comment_is_stored_once_with_what_the_queue_needs(stack, migrated, route) -> None:
    item_id = await comment(stack, route)
    [row] = stored(migrated, item_id)

    assert row["channel"] == CHANNEL_OF[route]
    assert row["kind"] == ("mention" if route == "twitter" else "comment")
    assert row["text"].endswith("Where can I buy this?")
    assert row["account_id"] == SIM.account_id(route)
    # Redelivered (Meta and X retry): still one row.
    body = {"platform": SIM_PLATFORM[route], "user_id": row["author_id"], "text": "x", "comment_id": item_id}
    if route == "instagram":
        body["username"] = row["author_handle"]
    await stack.sim("POST", "/_sim/public_comment", json=body)
    await stack.settle()
    assert len(stored(migrated, item_id)) == 1


@pytest.mark.parametrize("route", ["messenger", "instagram", "twitter"])
async def test_a_public_reply_goes_out_once_and_our_own_echo_is_not_an_item(stack, migrated, route) -> None:
    item_id = await comment(stack, route)
    request_id = f"desk-{uuid.uuid4().hex[:8]}"
    text = "Hi! That's our Alpaca Wool Jumper."

    status, answer = await act(stack, route, action="reply", item_id=item_id, text=text, client_id=request_id)
    again, replayed = await act(
        stack, route, action="reply", item_id=item_id, text=text, client_id=request_id
    )

    assert status == again == 200 and replayed == answer
    [call] = await platform_calls(stack, "public_reply")
    assert (call["target_id"], call["accepted"]) == (item_id, True)
    assert call["text"] == text and answer == {"status": "done", "action": "reply", "id": call["result_id"]}
    echo = await own_reply_delivered(stack, call["id"])
    assert echo["status"] == 200
    assert stored(migrated, call["result_id"]) == []  # our own reply came back and was dropped


@pytest.mark.parametrize("route", ["messenger", "instagram"])
async def test_meta_allows_one_private_reply_per_comment(stack, route) -> None:
    item_id = await comment(stack, route, text="my order never came")

    first, answer = await act(stack, route, action="private_reply", item_id=item_id, text="Hi, we're on it.")
    second, refusal = await act(stack, route, action="private_reply", item_id=item_id, text="Hi again")

    assert first == 200 and answer["id"].startswith("m_")
    assert second == 409 and refusal["error"] == "refused" and "one" in refusal["detail"]
    calls = await platform_calls(stack, "private_reply")
    assert [c["accepted"] for c in calls] == [True, False]


async def test_an_x_private_reply_is_a_dm_to_the_author(stack, migrated) -> None:
    item_id = await comment(stack, "twitter", text="@loomandco my order never came")
    [row] = stored(migrated, item_id)

    status, answer = await act(stack, "twitter", action="private_reply", item_id=item_id, text="Hi, DM us?")

    assert status == 200
    [dm] = await stack.sends("twitter", row["author_id"])
    assert dm["accepted"] and answer["id"] == dm["response"]["data"]["dm_event_id"]


@pytest.mark.parametrize("route", ["messenger", "instagram"])
async def test_hide_and_show_a_comment(stack, route) -> None:
    item_id = await comment(stack, route, text="buy followers at spam.example")

    hidden, _ = await act(stack, route, action="hide", item_id=item_id)
    after_hide = await stack.sim("GET", "/_sim/public")
    shown, _ = await act(stack, route, action="unhide", item_id=item_id)
    after_show = await stack.sim("GET", "/_sim/public")

    assert hidden == shown == 200

    def state(listing: dict) -> bool:
        items = [c for post in listing["posts"] for c in post["replies"] if c["id"] == item_id]
        return items[0]["hidden"]

    assert state(after_hide) is True and state(after_show) is False
    assert [c["kind"] for c in await platform_calls(stack)] == ["hide", "unhide"]


async def test_an_x_reply_under_our_tweet_can_be_hidden(stack) -> None:
    posts = await stack.sim("GET", "/_sim/public", params={"platform": "twitter"})
    tweet = posts["posts"][0]["id"]
    item_id = await comment(stack, "twitter", text="@loomandco scam!!", post_id=tweet)

    status, _ = await act(stack, "twitter", action="hide", item_id=item_id)

    assert status == 200
    [call] = await platform_calls(stack, "hide")
    assert call["accepted"] and call["target_id"] == item_id


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"action": "like", "item_id": "1"}, 400, "bad_request"),
        ({"action": "reply", "item_id": "1", "text": ""}, 400, "bad_request"),
        ({"action": "hide", "item_id": "1", "text": "why"}, 400, "bad_request"),
        ({"action": "reply", "item_id": "", "text": "hi"}, 400, "bad_request"),
        ({"action": "reply", "item_id": "122100000000000001_1", "text": "hi"}, 404, "unknown_item"),
    ],
)
async def test_bad_requests_and_unknown_items_are_refused_and_nothing_goes_out(
    stack, body, status, error
) -> None:
    answer_status, answer = await act(stack, "messenger", **body)

    assert (answer_status, answer["error"]) == (status, error)
    assert await platform_calls(stack) == []


async def test_no_token_no_action(stack) -> None:
    item_id = await comment(stack, "messenger")
    url = f"{stack.url}/messenger/public_action"
    body = {"action": "reply", "item_id": item_id, "text": "hi", "client_id": "x", "actor": "ada"}

    async with stack.http.post(url, json=body, headers={"Authorization": "Bearer wrong"}) as response:
        assert response.status == 401

    assert await platform_calls(stack) == []


async def test_an_item_of_another_channel_is_unknown_here(stack) -> None:
    item_id = await comment(stack, "instagram")

    status, answer = await act(stack, "messenger", action="reply", item_id=item_id, text="hi")

    assert (status, answer["error"]) == (404, "unknown_item")


async def test_a_reply_too_long_for_x_is_refused_before_any_call(stack) -> None:
    item_id = await comment(stack, "twitter")

    status, answer = await act(stack, "twitter", action="reply", item_id=item_id, text="x" * 281)

    assert (status, answer["error"]) == (409, "refused") and "280" in answer["detail"]
    assert await platform_calls(stack) == []


async def photo(stack: Stack) -> str:
    """An image uploaded to the simulator (Instagram's CDN in this play); its URL."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 120, 40)).save(buffer, "JPEG")
    answer = await stack.sim(
        "POST", "/_sim/media", data=buffer.getvalue(), headers={"Content-Type": "image/jpeg"}
    )
    return str(answer["url"])


async def test_an_instagram_caption_mention_is_fetched_stored_and_answered_under_it(stack, migrated) -> None:
    url = await photo(stack)
    body = {
        "platform": "instagram",
        "mention": "caption",
        "user_id": customer_id(),
        "username": "ana.wears",
        "text": "@loomandco my favourite tote",
        "image_urls": [url],
    }
    answer = await stack.sim("POST", "/_sim/public_comment", json=body)
    await stack.settle()
    media_id = str(answer["id"])

    [row] = stored(migrated, media_id)
    assert (row["channel"], row["kind"], row["post_id"], row["author_handle"]) == (
        "instagram",
        "mention",
        media_id,
        "ana.wears",
    )
    assert "my favourite tote" in row["text"] and json.loads(row["media_urls"]) == [url]

    status, made = await act(stack, "instagram", action="reply", item_id=media_id, text="Thank you, Ana!")
    refused, why = await act(stack, "instagram", action="hide", item_id=media_id)

    assert status == 200
    [call] = await platform_calls(stack, "public_reply")
    assert (call["target_id"], call["accepted"], call["text"]) == (media_id, True, "Thank you, Ana!")
    assert made["id"] == call["result_id"] and call["endpoint"].endswith(f"/{SIM.ig_id}/mentions")
    assert (refused, why["error"]) == (409, "refused")  # not our media: nothing to hide
    assert len(await platform_calls(stack)) == 1


async def test_an_instagram_comment_mention_is_answered_under_the_comment(stack, migrated) -> None:
    body = {
        "platform": "instagram",
        "mention": "comment",
        "user_id": customer_id(),
        "username": "sam.finds",
        "text": "@loomandco is this yours?",
    }
    answer = await stack.sim("POST", "/_sim/public_comment", json=body)
    await stack.settle()
    comment_id = str(answer["id"])
    [row] = stored(migrated, comment_id)
    assert (row["kind"], row["post_id"], row["text"]) == (
        "mention",
        str(answer["post_id"]),
        "@loomandco is this yours?",
    )
    assert json.loads(row["media_urls"]) == []  # the photo is someone else's post, not the customer's

    status, _ = await act(stack, "instagram", action="reply", item_id=comment_id, text="It is! ✨")
    private, why = await act(stack, "instagram", action="private_reply", item_id=comment_id, text="Hi")

    assert status == 200 and (private, why["error"]) == (409, "refused")
    [call] = await platform_calls(stack, "public_reply")
    assert call["target_id"] == comment_id and call["accepted"]


async def test_a_mention_whose_lookup_fails_is_tried_again(stack, migrated) -> None:
    body = {
        "platform": "instagram",
        "mention": "caption",
        "user_id": customer_id(),
        "username": "retry.me",
        "text": "@loomandco hello",
        "image_urls": [await photo(stack)],
    }
    await stack.fail(kind="mention_lookup", status=500, count=2)
    failed_before = value("graph_api_errors", "instagram", "1200")
    answer = await stack.sim("POST", "/_sim/public_comment", json=body)
    await stack.settle()

    assert value("graph_api_errors", "instagram", "1200") == failed_before + 2
    assert [r["author_handle"] for r in stored(migrated, str(answer["id"]))] == ["retry.me"]
