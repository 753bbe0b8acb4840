"""The fake X API's public side: replies (`POST /x/2/tweets`) and hidden replies (`PUT .../hidden`).

https://docs.x.com/x-api/posts/manage-tweets/introduction (201 `{"data": {"id", "text",
"edit_history_tweet_ids"}}`; a reply to a deleted or unknown tweet is refused with 403) and
https://docs.x.com/x-api/posts/hide-replies/introduction (only replies in conversations the account
started; `{"data": {"hidden"}}`). Order of checks: OAuth 1.0a (401), injected failure (`/_sim/fail`
kinds `public_reply` and `hide`, recipient the target tweet), request shape (400), target (403/404).
Every call is recorded in `/_sim/public_actions` (not `/_sim/sends`). After a reply, X posts the
`tweet_create_events` webhook of our own tweet to our connector; the fake does so in the background.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from bot.simulator.background import spawn
from bot.simulator.const import TWITTER, X_API_PREFIX, X_REPLY_NOT_VISIBLE
from bot.simulator.keys import CONFIG_KEY, SESSION_KEY, STATE_KEY
from bot.simulator.public_state import COMMENT, Author, PublicAction, PublicItem
from bot.simulator.webhooks import deliver, encode
from bot.simulator.x_api import checked_json, decode_json, run_work
from bot.simulator.x_errors import problem
from bot.simulator.x_payloads import ReplyTo, mentions_user, tweet
from bot.simulator.x_validation import validate_hidden, validate_reply
from bot.simulator.x_webhooks import x_signature_headers

TWEETS_ROUTE = X_API_PREFIX + "/2/tweets"
HIDDEN_ROUTE = X_API_PREFIX + "/2/tweets/{tweet_id}/hidden"
# The simulator's wording: X's text for this refusal is not documented.
NOT_OUR_CONVERSATION = "You can only hide or unhide replies to conversations you started."
Work = Awaitable[tuple[dict[str, Any], dict[str, str], Any]]


async def _run(
    action: PublicAction, work: Work, success_status: int
) -> tuple[int, dict[str, Any], dict[str, str], Any]:
    """`run_work` for a public call, recorded with the id of what it made."""

    def finish(status: int, answer: dict[str, Any]) -> None:
        data = answer.get("data")
        action.finish(status, answer, data.get("id") if isinstance(data, dict) else None)

    return await run_work(work, success_status, finish)


# ---- POST /x/2/tweets ------------------------------------------------------------------------------


async def create_tweet(request: web.Request) -> web.Response:
    """A reply by the brand; 201 `{"data": {"edit_history_tweet_ids", "id", "text"}}`, then its webhook."""
    body = decode_json(await request.read())
    reply = body.get("reply") if isinstance(body, dict) else None
    target = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
    text = body.get("text") if isinstance(body, dict) else None
    action = request.app[STATE_KEY].public.start_action(
        TWITTER,
        "public_reply",
        target if isinstance(target, str) else None,
        text if isinstance(text, str) else None,
        request.path,
    )
    status, answer, headers, item = await _run(action, _reply(request, body), 201)
    if isinstance(item, PublicItem) and item.webhook is not None:
        spawn(request.app, _deliver_own(request.app, item.webhook, action))
    return web.json_response(answer, status=status, headers=headers)


async def _reply(request: web.Request, body: Any) -> tuple[dict[str, Any], dict[str, str], PublicItem]:
    config = request.app[CONFIG_KEY]
    state = request.app[STATE_KEY]
    x = state.x
    reply = body.get("reply") if isinstance(body, dict) else None
    target_id = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
    target = target_id if isinstance(target_id, str) else None
    headers = await checked_json(request, body, target, "public_reply")
    wanted = validate_reply(body)
    target = state.public.get(TWITTER, wanted.in_reply_to)
    if target is None:
        raise problem(403, X_REPLY_NOT_VISIBLE)
    brand = x.brand(config.x_user_id, config.x_screen_name)
    answered = brand if target.author.id == brand.id else x.user(target.author.id)
    # X puts the answered account's handle in front of a reply, outside its display range.
    addressed = answered.id == brand.id or mentions_user(wanted.text, answered.screen_name)
    prefix = "" if addressed else f"@{answered.screen_name} "
    tweet_id = x.new_id()
    now = x.clock()
    event = tweet(
        tweet_id,
        now,
        brand,
        prefix + wanted.text,
        x.find_screen_name,
        ReplyTo(target.id, answered),
        None,
        len(prefix),
    )
    author = Author(brand.id, name=brand.name, username=brand.screen_name)
    item = PublicItem(
        TWITTER, COMMENT, tweet_id, target.post_id, target.id, author, prefix + wanted.text, now, True
    )
    item.webhook = {"for_user_id": config.x_user_id, "tweet_create_events": [event]}
    state.public.add(item)
    answer = {"data": {"edit_history_tweet_ids": [tweet_id], "id": tweet_id, "text": wanted.text}}
    return answer, headers, item


async def _deliver_own(app: web.Application, body: dict[str, Any], action: PublicAction) -> None:
    """Post the webhook of our own new tweet, signed like X, and note how it went."""
    config = app[CONFIG_KEY]
    raw = encode(body)
    headers = x_signature_headers(raw, config.x_consumer_secret)
    delivery = await deliver(
        app[SESSION_KEY], config.webhook_url(TWITTER), raw, headers, config.webhook_timeout
    )
    action.own_webhook = {**delivery.to_json(), "webhook": body}


# ---- PUT /x/2/tweets/{tweet_id}/hidden ---------------------------------------------------------------


async def hide_reply(request: web.Request) -> web.Response:
    """Hide (or show) a reply in one of the brand's conversations; 200 `{"data": {"hidden"}}`."""
    body = decode_json(await request.read())
    tweet_id = request.match_info["tweet_id"]
    wanted = body.get("hidden") if isinstance(body, dict) else None
    kind = "unhide" if wanted is False else "hide"
    action = request.app[STATE_KEY].public.start_action(TWITTER, kind, tweet_id, None, request.path)
    status, answer, headers, _ = await _run(action, _hide(request, body, tweet_id), 200)
    return web.json_response(answer, status=status, headers=headers)


async def _hide(
    request: web.Request, body: Any, tweet_id: str
) -> tuple[dict[str, Any], dict[str, str], None]:
    config = request.app[CONFIG_KEY]
    public = request.app[STATE_KEY].public
    headers = await checked_json(request, body, tweet_id, "hide")
    hidden = validate_hidden(body, tweet_id)
    item = public.get(TWITTER, tweet_id)
    if item is None:
        raise problem(404, f"Could not find tweet with id: [{tweet_id}].")
    root = public.get(TWITTER, item.post_id)
    ours = root is not None and root.author.id == config.x_user_id
    if item.parent_id is None or item.from_brand or not ours:
        raise problem(403, NOT_OUR_CONVERSATION)
    item.hidden = hidden
    return {"data": {"hidden": hidden}}, headers, None


def add_routes(app: web.Application) -> None:
    """Register the fake X API's public routes."""
    app.router.add_post(TWEETS_ROUTE, create_tweet)
    app.router.add_put(HIDDEN_ROUTE, hide_reply)
