"""The control API for public activity: customers' comments, and what the public fakes saw.

`POST /_sim/public_comment` builds, signs and delivers the webhook of a customer's comment on one of
the brand's posts (Facebook `feed`, Instagram `comments`; X tweets in x_control.py) or of an Instagram
mention (`mentions`, see public_mentions.py); `GET /_sim/public` lists the posts and mentions with
their threads; `GET|DELETE /_sim/public_actions` the calls our service made to the public fake APIs
(replies, private replies, hiding).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.simulator import x_control
from bot.simulator.config import SimulatorConfig
from bot.simulator.const import (
    COMMENT_TEXT_LIMIT,
    FACEBOOK,
    IG_STOCK_MEDIA_PATH,
    INSTAGRAM,
    MESSENGER,
    PUBLIC_PLATFORMS,
    TWITTER,
)
from bot.simulator.errors import sim_error
from bot.simulator.graph_public import comment_webhook, comment_webhook_url
from bot.simulator.keys import CONFIG_KEY, SESSION_KEY, STATE_KEY
from bot.simulator.public_mentions import MentionRefused, add_mention
from bot.simulator.public_state import COMMENT, Author, LookupFailed, PublicItem, PublicState
from bot.simulator.webhooks import deliver_meta

_COMMON = {"platform", "user_id", "text", "image_urls", "post_id", "parent_id", "comment_id", "followers"}
_NAMES = {FACEBOOK: {"name"}, INSTAGRAM: {"username"}}
# A mention is not under any post of the brand's: no post_id or parent_id.
_MENTION_KEYS = (_COMMON - {"post_id", "parent_id"}) | {"mention", "username"}
_COMMENT_ID = {FACEBOOK: re.compile(r"[0-9]{1,20}_[0-9]{1,20}"), INSTAGRAM: re.compile(r"[0-9]{1,20}")}
_IG_USER_ID = re.compile(r"[0-9]{1,20}")
_IG_USERNAME = re.compile(r"[A-Za-z0-9._]{1,30}")
_MEDIA_PATH = re.compile(r"/_sim/media/([A-Za-z0-9_-]+)")
_NAME_MAX = 100
_USER_ID_MAX = 64
_ACTION_KINDS = ("public_reply", "private_reply", "hide", "unhide")


def _platform(value: Any) -> str:
    if value not in PUBLIC_PLATFORMS:
        raise sim_error(400, f"platform must be one of {', '.join(PUBLIC_PLATFORMS)}")
    return str(value)


def _string(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise sim_error(400, f"{key} must be a string")
    return value


def _author(platform: str, data: Mapping[str, Any], config: SimulatorConfig) -> Author:
    """The commenter: a Page-scoped id and name on Facebook, an IGSID (digits) and username on Instagram."""
    value = data.get("user_id")
    user_id = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if platform == INSTAGRAM and not _IG_USER_ID.fullmatch(user_id):
        raise sim_error(400, "user_id must be an Instagram-scoped id (digits)")
    if not user_id or len(user_id) > _USER_ID_MAX or any(c.isspace() for c in user_id):
        raise sim_error(400, f"user_id must be 1-{_USER_ID_MAX} characters without spaces")
    if user_id == config.account_id(INSTAGRAM if platform == INSTAGRAM else MESSENGER):
        raise sim_error(400, "user_id is the brand's own account; customers have other ids")
    followers = data.get("followers")
    if followers is not None and (
        not isinstance(followers, int) or isinstance(followers, bool) or followers < 0
    ):
        raise sim_error(400, "followers must be a whole number, 0 or more")
    suffix = user_id[-6:]
    if platform == FACEBOOK:
        name = _string(data, "name") or f"Customer {suffix}"
        if len(name) > _NAME_MAX:
            raise sim_error(400, f"name must be at most {_NAME_MAX} characters")
        return Author(user_id, name=name, followers=followers)
    username = _string(data, "username") or f"customer{suffix}"
    if not _IG_USERNAME.fullmatch(username):
        raise sim_error(400, "username must be 1-30 letters, digits, periods or underscores")
    return Author(user_id, username=username, followers=followers)


def _photo(request: web.Request, value: Any, refusal: str | None = None) -> str | None:
    """The URL of one image uploaded to this simulator (POST /_sim/media); `refusal` if none may come."""
    if value is None or value == []:
        return None
    if refusal is not None:
        raise sim_error(400, refusal)
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], str):
        raise sim_error(400, "image_urls must be a list of one URL (a comment carries a single photo)")
    match = _MEDIA_PATH.fullmatch(urlsplit(value[0]).path)
    if match is None or request.app[STATE_KEY].get_media(match.group(1)) is None:
        raise sim_error(400, "image_urls[0] must be an image uploaded to this simulator (POST /_sim/media)")
    return value[0]


def _new_id(platform: str, given: str | None, post: PublicItem, make: Callable[[PublicItem], str]) -> str:
    """The given comment id (checked for the platform's form), or a fresh one."""
    if given is None:
        return make(post)
    if not _COMMENT_ID[platform].fullmatch(given):
        form = "<post digits>_<digits>" if platform == FACEBOOK else "digits"
        raise sim_error(400, f"comment_id must look like {form} on {platform}")
    if platform == FACEBOOK and not given.startswith(post.id.rsplit("_", 1)[-1] + "_"):
        raise sim_error(400, f"a comment id under post {post.id} starts with {post.id.rsplit('_', 1)[-1]}_")
    return given


async def public_comment(request: web.Request) -> web.Response:
    """`POST /_sim/public_comment`: a customer's comment, reply or tweet, delivered as its webhook."""
    data = await x_control.json_object(request)
    platform = _platform(data.get("platform"))
    if platform == TWITTER:
        return await x_control.customer_tweet(request, data)
    if platform == INSTAGRAM and "mention" in data:
        return await _mention(request, data)
    unknown = sorted(set(data) - _COMMON - _NAMES[platform])
    if unknown:
        raise sim_error(400, f"not for {platform} comments: {', '.join(unknown)} (see the README)")
    config = request.app[CONFIG_KEY]
    public = request.app[STATE_KEY].public
    given = _string(data, "comment_id")
    known = _delivered(public, platform, given)
    if known is not None:
        return await _deliver(request, known)
    author = _author(platform, data, config)
    text = _string(data, "text") or ""
    no_photo = "Instagram comments carry no photo: leave image_urls out" if platform == INSTAGRAM else None
    photo = _photo(request, data.get("image_urls"), no_photo)
    if not text.strip() and photo is None:
        raise sim_error(400, "give text" + (" and/or image_urls" if platform == FACEBOOK else ""))
    if len(text) > COMMENT_TEXT_LIMIT[platform]:
        raise sim_error(400, f"text must be at most {COMMENT_TEXT_LIMIT[platform]} characters on {platform}")
    try:
        post, parent = public.resolve(platform, _string(data, "post_id"), _string(data, "parent_id"))
    except LookupFailed as err:
        raise sim_error(400, str(err)) from err
    # Meta threads are one level deep: a reply to a reply goes under the top-level comment.
    parent_id = public.top_level(parent).id if parent is not None else post.id
    comment_id = _new_id(platform, given, post, public.new_comment_id)
    item = PublicItem(platform, COMMENT, comment_id, post.id, parent_id, author, text, public.clock(), False)
    item.photo = photo
    item.webhook = comment_webhook(config, public, item)
    public.add(item)
    return await _deliver(request, item)


async def _mention(request: web.Request, data: dict[str, Any]) -> web.Response:
    """An Instagram @mention of the brand (its own photo post, or a comment elsewhere), as `mentions`."""
    unknown = sorted(set(data) - _MENTION_KEYS)
    if unknown:
        raise sim_error(400, f"not for instagram mentions: {', '.join(unknown)} (see the README)")
    config = request.app[CONFIG_KEY]
    public = request.app[STATE_KEY].public
    given = _string(data, "comment_id")
    known = _delivered(public, INSTAGRAM, given)
    if known is not None:
        return await _deliver(request, known)
    author = _author(INSTAGRAM, data, config)
    photo = _photo(request, data.get("image_urls"))
    base = config.public_url or f"{request.scheme}://{request.host}"
    text = _string(data, "text") or ""
    try:
        item = add_mention(
            public, config.ig_id, data["mention"], author, text, photo, base + IG_STOCK_MEDIA_PATH, given
        )
    except MentionRefused as err:
        raise sim_error(400, str(err)) from err
    return await _deliver(request, item)


def _delivered(public: PublicState, platform: str, item_id: str | None) -> PublicItem | None:
    """The item a known `comment_id` names, to redeliver; None for a new id."""
    known = public.get(platform, item_id) if item_id is not None else None
    if known is not None and known.webhook is None:
        whose = "one of the brand's posts" if known.from_brand else "another account's post"
        raise sim_error(400, f"{item_id} is {whose}, not a comment the simulator delivered")
    return known


async def _deliver(request: web.Request, item: PublicItem) -> web.Response:
    """Sign and post `item`'s webhook (the same body on a redelivery); answer like customer_message."""
    config = request.app[CONFIG_KEY]
    url = comment_webhook_url(config, item.platform)
    delivery = await deliver_meta(
        request.app[SESSION_KEY], url, item.webhook, config.app_secret, config.webhook_timeout
    )
    return x_control.delivered(delivery, item)


async def list_public(request: web.Request) -> web.Response:
    """`GET /_sim/public?platform=`: the brand's posts, and mentions, with their threads."""
    wanted = request.query.get("platform") or None
    platform = None if wanted is None else _platform(wanted)
    return web.json_response({"posts": request.app[STATE_KEY].public.tree(platform)})


async def list_actions(request: web.Request) -> web.Response:
    """`GET /_sim/public_actions?platform=&kind=`: calls to the public fake APIs, in arrival order."""
    wanted = request.query.get("platform") or None
    platform = None if wanted is None else _platform(wanted)
    kind = request.query.get("kind") or None
    if kind is not None and kind not in _ACTION_KINDS:
        raise sim_error(400, f"kind must be one of {', '.join(_ACTION_KINDS)}")
    actions = request.app[STATE_KEY].public.actions(platform, kind)
    return web.json_response([action.to_json() for action in actions])


async def clear_actions(request: web.Request) -> web.Response:
    """`DELETE /_sim/public_actions`."""
    request.app[STATE_KEY].public.clear_actions()
    return web.json_response({"ok": True})


def add_routes(app: web.Application) -> None:
    """Register the public control routes."""
    app.router.add_post("/_sim/public_comment", public_comment)
    app.router.add_get("/_sim/public", list_public)
    app.router.add_get("/_sim/public_actions", list_actions)
    app.router.add_delete("/_sim/public_actions", clear_actions)
