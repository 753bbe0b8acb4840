"""The simulator's control API for X: customer DMs, mentions and replies, the CRC check, the echo switch.

`POST /_sim/customer_message` with platform "twitter" lands in `customer_message` here, and
`POST /_sim/public_comment` with platform "twitter" in `customer_tweet`; the rest are `/_sim/x/...`
routes. Webhooks are built like the Account Activity API's and signed with the consumer secret
(x_webhooks.py). Every tweet the simulator posts is kept in `SimState.public`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.simulator.const import TWITTER
from bot.simulator.errors import sim_error
from bot.simulator.keys import CONFIG_KEY, SESSION_KEY, STATE_KEY
from bot.simulator.media import image_size
from bot.simulator.public_state import COMMENT, MENTION, POST, Author, LookupFailed, PublicItem
from bot.simulator.webhooks import Delivery, deliver, encode
from bot.simulator.x_api import public_base, ton_url, tweet_photo_key, tweet_photo_url
from bot.simulator.x_payloads import DirectMessage, ReplyTo, TweetPhoto, dm_webhook, mentions_user, tweet
from bot.simulator.x_state import XMedia, XUser
from bot.simulator.x_webhooks import challenge, x_signature_headers

_USER_ID = re.compile(r"[0-9]{1,19}")
_SCREEN_NAME = re.compile(r"[A-Za-z0-9_]{1,15}")
_MEDIA_PATH = re.compile(r"/_sim/media/([A-Za-z0-9_-]+)")
_ALLOWED = {"platform", "user_id", "text", "quick_reply_payload", "image_urls", "name", "screen_name", "mid"}
_TWEET_ALLOWED = {
    "platform",
    "user_id",
    "name",
    "screen_name",
    "text",
    "image_urls",
    "post_id",
    "parent_id",
    "comment_id",
    "followers",
}


def _string(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise sim_error(400, f"{key} must be a string")
    return value


def _user_id(data: Mapping[str, Any], own_id: str) -> str:
    value = data.get("user_id")
    user_id = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not _USER_ID.fullmatch(user_id):
        raise sim_error(400, "user_id must be an X user id (digits)")
    if user_id == own_id:
        raise sim_error(400, "user_id is the brand's own account; customers have other ids")
    return user_id


def _customer(request: web.Request, data: Mapping[str, Any]) -> XUser:
    config = request.app[CONFIG_KEY]
    user_id = _user_id(data, config.x_user_id)
    screen_name = _string(data, "screen_name")
    if screen_name is not None and not _SCREEN_NAME.fullmatch(screen_name):
        raise sim_error(400, "screen_name must be 1-15 letters, digits or underscores")
    return request.app[STATE_KEY].x.user(user_id, _string(data, "name"), screen_name)


def _photo(request: web.Request, value: Any, category: str = "dm_image") -> XMedia | None:
    """The X media for `image_urls`: one URL of an image uploaded to this simulator's /_sim/media."""
    if value is None or value == []:
        return None
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], str):
        raise sim_error(400, "image_urls must be a list of one URL (the simulator sends a single photo)")
    match = _MEDIA_PATH.fullmatch(urlsplit(value[0]).path)
    state = request.app[STATE_KEY]
    stored = state.get_media(match.group(1)) if match else None
    if match is None or stored is None:
        raise sim_error(400, "image_urls[0] must be an image uploaded to this simulator (POST /_sim/media)")
    dims = image_size(stored.data)
    return state.x.add_media(match.group(1), stored.content_type, len(stored.data), dims, category)


async def _post(request: web.Request, body: dict[str, Any]) -> Delivery:
    """Sign `body` like X and post it to our connector's webhook."""
    config = request.app[CONFIG_KEY]
    raw = encode(body)
    headers = x_signature_headers(raw, config.x_consumer_secret)
    session = request.app[SESSION_KEY]
    return await deliver(session, config.webhook_url(TWITTER), raw, headers, config.webhook_timeout)


async def customer_message(request: web.Request, data: dict[str, Any]) -> web.Response:
    """A customer's DM to the brand as a `direct_message_events` webhook: {status, body, mid, webhook}."""
    unknown = sorted(set(data) - _ALLOWED)
    if unknown:
        raise sim_error(400, f"not for X DMs: {', '.join(unknown)} (see the README)")
    config = request.app[CONFIG_KEY]
    x = request.app[STATE_KEY].x
    sender = _customer(request, data)
    text = _string(data, "text") or ""
    quick_reply = _string(data, "quick_reply_payload")
    event_id = _string(data, "mid") or x.new_id()
    if not _USER_ID.fullmatch(event_id):
        raise sim_error(400, "mid (the DM event id) must be digits")
    media = _photo(request, data.get("image_urls"))
    if not text and media is None:
        raise sim_error(400, "give text and/or image_urls")
    if quick_reply is not None and not text:
        raise sim_error(400, "quick_reply_payload needs text (the label of the chosen option)")
    url = ton_url(public_base(request), event_id, media, x.add_ton(event_id, media)) if media else None
    message = DirectMessage(
        event_id=event_id,
        created_ms=int(x.clock() * 1000),
        sender=sender,
        recipient=x.brand(config.x_user_id, config.x_screen_name),
        text=text,
        quick_reply_metadata=quick_reply,
        media=media,
        ton_url=url,
    )
    webhook = dm_webhook(config.x_user_id, message, x.find_screen_name)
    delivery = await _post(request, webhook)
    answer = {**delivery.to_json(), "mid": event_id, "webhook": webhook}
    return web.json_response(answer, status=200 if delivery.status is not None else 502)


async def mention(request: web.Request) -> web.Response:
    """`POST /_sim/x/mention`: a tweet mentioning the brand (or, `from_brand`, one of the brand's own).

    The tweet starts its own thread in `/_sim/public` (a brand tweet is listed as one of its posts).
    """
    data = await json_object(request)
    config = request.app[CONFIG_KEY]
    x = request.app[STATE_KEY].x
    text = _string(data, "text")
    if not text:
        raise sim_error(400, "text is required")
    from_brand = data.get("from_brand", False)
    if not isinstance(from_brand, bool):
        raise sim_error(400, "from_brand must be true or false")
    brand = x.brand(config.x_user_id, config.x_screen_name)
    followers = _followers(data)
    if from_brand:
        author = brand
    else:
        author = _customer(request, data)
        if followers is not None:
            author.followers_count = followers
        if not mentions_user(text, brand.screen_name):
            text = f"@{brand.screen_name} {text}"
    tweet_id = x.new_id()
    body: dict[str, Any] = {"for_user_id": config.x_user_id}
    if not from_brand:
        body["user_has_blocked"] = False
    body["tweet_create_events"] = [tweet(tweet_id, x.clock(), author, text, x.find_screen_name)]
    kind = POST if from_brand else MENTION
    item = PublicItem(
        TWITTER,
        kind,
        tweet_id,
        tweet_id,
        None,
        _author(author, None if from_brand else followers),
        text,
        x.clock(),
        from_brand,
    )
    item.webhook = body
    request.app[STATE_KEY].public.add(item)
    delivery = await _post(request, body)
    answer = {**delivery.to_json(), "tweet_id": tweet_id, "webhook": body}
    return web.json_response(answer, status=200 if delivery.status is not None else 502)


def _author(user: XUser, followers: int | None = None) -> Author:
    return Author(user.id, name=user.name, username=user.screen_name, followers=followers)


def _followers(data: Mapping[str, Any]) -> int | None:
    value = data.get("followers")
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise sim_error(400, "followers must be a whole number, 0 or more")
    return value


async def customer_tweet(request: web.Request, data: dict[str, Any]) -> web.Response:
    """A customer's reply under one of the brand's tweets (or in its thread), as `tweet_create_events`.

    X puts the answered users' handles in front of a reply's text and `display_text_range` after them;
    a known `comment_id` redelivers the first webhook of that tweet unchanged.
    """
    unknown = sorted(set(data) - _TWEET_ALLOWED)
    if unknown:
        raise sim_error(400, f"not for X tweets: {', '.join(unknown)} (see the README)")
    config = request.app[CONFIG_KEY]
    state = request.app[STATE_KEY]
    tweet_id = _string(data, "comment_id")
    if tweet_id is not None:
        if not _USER_ID.fullmatch(tweet_id):
            raise sim_error(400, "comment_id (a tweet id) must be digits")
        known = state.public.get(TWITTER, tweet_id)
        if known is not None:
            return await _redeliver(request, known)
    author = _customer(request, data)
    followers = _followers(data)
    if followers is not None:
        author.followers_count = followers
    text = _string(data, "text") or ""
    media = _photo(request, data.get("image_urls"), "tweet_image")
    if not text and media is None:
        raise sim_error(400, "give text and/or image_urls")
    try:
        post, parent = state.public.resolve(TWITTER, _string(data, "post_id"), _string(data, "parent_id"))
    except LookupFailed as err:
        raise sim_error(400, str(err)) from err
    target = parent or post
    answered = _x_user(request, target)
    brand = state.x.brand(config.x_user_id, config.x_screen_name)
    handles = [answered.screen_name] + ([brand.screen_name] if answered.id != brand.id else [])
    prefix = "".join(f"@{handle} " for handle in handles if not mentions_user(text, handle))
    full = (prefix + text).rstrip() if not text else prefix + text
    tweet_id = tweet_id or state.x.new_id()
    photo = None
    if media is not None:
        name = state.x.add_ton(tweet_photo_key(tweet_id), media)
        photo = TweetPhoto(media, tweet_photo_url(public_base(request), tweet_id, media, name))
    event = tweet(
        tweet_id,
        state.x.clock(),
        author,
        full,
        state.x.find_screen_name,
        ReplyTo(target.id, answered),
        photo,
        min(len(prefix), len(full)),
    )
    body = {"for_user_id": config.x_user_id, "user_has_blocked": False, "tweet_create_events": [event]}
    item = PublicItem(
        TWITTER,
        COMMENT,
        tweet_id,
        post.id,
        target.id,
        _author(author, followers),
        full,
        state.x.clock(),
        False,
    )
    item.photo = data["image_urls"][0] if media is not None else None
    item.webhook = body
    state.public.add(item)
    delivery = await _post(request, body)
    answer = {
        **delivery.to_json(),
        "id": tweet_id,
        "post_id": post.id,
        "parent_id": target.id,
        "webhook": body,
    }
    return web.json_response(answer, status=200 if delivery.status is not None else 502)


def _x_user(request: web.Request, item: PublicItem) -> XUser:
    """The X user who wrote `item` (the brand, or a customer X already knows)."""
    config = request.app[CONFIG_KEY]
    x = request.app[STATE_KEY].x
    if item.author.id == config.x_user_id:
        return x.brand(config.x_user_id, config.x_screen_name)
    return x.user(item.author.id)


async def _redeliver(request: web.Request, item: PublicItem) -> web.Response:
    """Post the webhook first delivered for `item` again, byte for byte the same body."""
    if item.webhook is None:
        raise sim_error(400, f"{item.id} is one of the brand's posts, not a tweet the simulator delivered")
    return delivered(await _post(request, item.webhook), item)


def delivered(delivery: Delivery, item: PublicItem) -> web.Response:
    """The control API's answer for a public item's webhook: how it went, the ids, the body sent."""
    answer = {
        **delivery.to_json(),
        "id": item.id,
        "post_id": item.post_id,
        "parent_id": item.parent_id,
        "webhook": item.webhook,
    }
    return web.json_response(answer, status=200 if delivery.status is not None else 502)


async def crc(request: web.Request) -> web.Response:
    """`POST /_sim/x/crc {"crc_token"?}`: X's challenge-response check of our webhook."""
    data = await json_object(request, allow_empty=True)
    config = request.app[CONFIG_KEY]
    token = _string(data, "crc_token")
    answer = await challenge(
        request.app[SESSION_KEY], config.webhook_url(TWITTER), config.x_consumer_secret, token
    )
    return web.json_response(answer)


async def set_echoes(request: web.Request) -> web.Response:
    """`POST /_sim/x/echoes {"enabled": bool}`: whether DMs we send are echoed to our webhook."""
    data = await json_object(request)
    if not isinstance(data.get("enabled"), bool):
        raise sim_error(400, "enabled must be true or false")
    request.app[STATE_KEY].x.echoes_enabled = data["enabled"]
    return web.json_response({"ok": True, "enabled": data["enabled"]})


async def list_echoes(request: web.Request) -> web.Response:
    """`GET /_sim/x/echoes`: the switch and the last echo deliveries (status, body, dm_event_id, webhook)."""
    x = request.app[STATE_KEY].x
    return web.json_response({"enabled": x.echoes_enabled, "deliveries": list(x.echo_deliveries)})


async def json_object(request: web.Request, allow_empty: bool = False) -> dict[str, Any]:
    """The request's JSON object (an empty body is `{}` when allowed); 400 otherwise."""
    if allow_empty and not await request.read():
        return {}
    try:
        data = await request.json()
    except ValueError as err:
        raise sim_error(400, "body must be JSON") from err
    if not isinstance(data, dict):
        raise sim_error(400, "body must be a JSON object")
    return data


def add_routes(app: web.Application) -> None:
    """Register the `/_sim/x/...` control routes."""
    app.router.add_post("/_sim/x/mention", mention)
    app.router.add_post("/_sim/x/crc", crc)
    app.router.add_post("/_sim/x/echoes", set_echoes)
    app.router.add_get("/_sim/x/echoes", list_echoes)
