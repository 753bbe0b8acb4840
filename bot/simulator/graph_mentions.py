"""The fake Graph API's Instagram mention routes: read a mention by its id, and answer it in public.

A `mentions` webhook names only ids (public_mentions.py). `GET /{v}/{ig-user-id}?fields=
mentioned_media.media_id(<id>){...}` reads a caption mention and `mentioned_comment.comment_id(<id>)
{...}` a comment mention; `POST /{v}/{ig-user-id}/mentions` with `media_id`, `comment_id`? and
`message` answers one: a comment on the customer's media, or a reply under the mentioning comment.
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/mentioned_media
(and .../mentioned_comment, .../mentions). No webhook follows a reply: the media is not ours.

Only the Instagram token reaches these, on the account's own id. Checks, in order: token,
appsecret_proof, injected failure (kinds `mention_lookup` and `public_reply`, recipient the mention's
id), node, then `fields` or the parameters. A read answers the requested fields in order, then `id`
(Graph always names an object), or `id` alone when no `{...}` list is given. As documented, a
mentioned caption comes back without its `@` signs (the media is not the account's own).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.simulator.config import SimulatorConfig
from bot.simulator.const import IG_USERNAME, INSTAGRAM, PUBLIC_NAME
from bot.simulator.graph_auth import access_token, unsupported_get, unsupported_post
from bot.simulator.graph_errors import (
    GraphError,
    invalid_parameter,
    syntax_error,
    www_authenticate,
)
from bot.simulator.graph_fields import Field, FieldSyntaxError, parse_fields
from bot.simulator.graph_public import NODE_ROUTE, first_checks, graph_params, message_param
from bot.simulator.keys import CONFIG_KEY, STATE_KEY
from bot.simulator.profiles import read_profile
from bot.simulator.public_payloads import graph_time
from bot.simulator.public_state import COMMENT, Author, PublicItem, PublicState
from bot.simulator.state import SimState

MENTIONS_ROUTE = r"/{version:v\d+\.\d+}/{node}/mentions"
_LOOKUPS = {"mentioned_media": "media_id", "mentioned_comment": "comment_id"}
# An `@` that starts a handle (not the one in an e-mail address).
_HANDLE_AT = re.compile(r"(?<![\w.])@(?=[A-Za-z0-9._])")


@dataclass(frozen=True)
class _Node:
    """A Graph object's readable fields (a nested object is a `_Node` too); `type` names it in errors."""

    type: str
    values: dict[str, Any]


# ---- Reading ----------------------------------------------------------------------------------------


def _media_node(public: PublicState, media: PublicItem) -> _Node:
    """The IG Media fields of a customer's media, or of the other account's media a comment is on."""
    return _Node(
        "IGMedia",
        {
            "caption": _HANDLE_AT.sub("", media.text),
            "comments_count": public.comment_count(media),
            "id": media.id,
            "like_count": 0,
            "media_product_type": "FEED",
            "media_type": "IMAGE",
            "media_url": media.photo,
            "permalink": media.permalink,
            "timestamp": graph_time(media.created_at),
            "username": media.author.username,
        },
    )


def _comment_node(public: PublicState, comment: PublicItem) -> _Node:
    """The IG Comment fields of a comment mention; `media` is the post it is on."""
    media = public.get(INSTAGRAM, comment.post_id) or comment
    return _Node(
        "IGComment",
        {
            "id": comment.id,
            "like_count": 0,
            "media": _media_node(public, media),
            "text": comment.text,
            "timestamp": graph_time(comment.created_at),
            "username": comment.author.username,
        },
    )


def _value(node: _Node, field: Field) -> Any:
    """One requested field's value (a nested object picked in turn); raises `GraphError`."""
    where = f"({field.name}) on node type ({node.type})"
    if field.name not in node.values:
        raise invalid_parameter(f"Tried accessing nonexisting field {where}")
    if field.modifiers:
        raise invalid_parameter(f"Field {where} takes no parameters")
    value = node.values[field.name]
    if isinstance(value, _Node):
        return _pick(value, field.children)
    if field.children is not None:
        raise invalid_parameter(f"Field {where} has no fields of its own")
    return value


def _pick(node: _Node, fields: tuple[Field, ...] | None) -> dict[str, Any]:
    """The requested fields in order, then `id`; `id` alone by default. Unset fields are left out."""
    answer: dict[str, Any] = {}
    for field in fields or ():
        value = _value(node, field)
        if value is not None:
            answer[field.name] = value
    answer.setdefault("id", node.values["id"])
    return answer


def _mentioned(public: PublicState, field: Field) -> dict[str, Any]:
    """`mentioned_media.media_id(<id>){...}` or `mentioned_comment.comment_id(<id>){...}`."""
    param = _LOOKUPS[field.name]
    modifiers = dict(field.modifiers)
    target = modifiers.get(param)
    if not target or set(modifiers) != {param}:
        raise invalid_parameter(f"{field.name} takes one parameter, the id: {field.name}.{param}(<id>)")
    if field.name == "mentioned_media":
        media = public.caption_mention(target)
        node = _media_node(public, media) if media is not None else None
    else:
        comment = public.comment_mention(target)
        node = _comment_node(public, comment) if comment is not None else None
    if node is None:
        raise unsupported_get(target)  # not a mention of this account (or no such id)
    return _pick(node, field.children)


def _read_account(public: PublicState, config: SimulatorConfig, fields: tuple[Field, ...]) -> dict[str, Any]:
    """The IG User node: `id`, `username` and the two mention lookups."""
    account = _Node("IGUser", {"id": config.ig_id, "username": IG_USERNAME})
    answer: dict[str, Any] = {}
    for field in fields:
        if field.name in _LOOKUPS:
            answer[field.name] = _mentioned(public, field)
        else:
            answer[field.name] = _value(account, field)
    answer.setdefault("id", config.ig_id)
    return answer


def _looked_up(fields: tuple[Field, ...]) -> str | None:
    """The first mention id asked for (what `/_sim/fail`'s `recipient` matches)."""
    for field in fields:
        if field.name in _LOOKUPS:
            return dict(field.modifiers).get(_LOOKUPS[field.name])
    return None


async def read_account(request: web.Request) -> web.Response:
    """`GET /{v}/{ig-user-id}?fields=...`: the account's fields, and the mentions it is asked about."""
    config = request.app[CONFIG_KEY]
    state = request.app[STATE_KEY]
    node = request.match_info["node"]
    params = dict(request.query)
    token = access_token(request, params)
    token_platform = config.platform_for_token(token)
    if node not in (config.ig_id, config.page_id, "me"):  # any other node: a customer (User Profile API)
        return await read_profile(request, token_platform, {**params, "access_token": token or ""})
    try:
        fields, malformed = parse_fields(params.get("fields", "")), None
    except FieldSyntaxError as err:
        fields, malformed = (), syntax_error(str(err))
    headers: dict[str, str] = {}
    try:
        token_platform = await first_checks(
            request, params, token, token_platform, _looked_up(fields), "mention_lookup"
        )
        if token_platform != INSTAGRAM or node != config.ig_id:
            raise unsupported_get(node)
        if malformed is not None:
            raise malformed
        answer, status = _read_account(state.public, config, fields), 200
    except GraphError as err:
        answer, status = err.body(), err.status
        headers.update(www_authenticate(err))
    return web.json_response(answer, status=status, headers=headers)


# ---- Replying ---------------------------------------------------------------------------------------


def _id_param(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise invalid_parameter(f"param {name} must be an id")
    return str(value)


def _reply(state: SimState, config: SimulatorConfig, params: dict[str, Any]) -> PublicItem:
    """Our comment on a caption mention's media, or our reply under a mentioning comment."""
    public = state.public
    media_id = _id_param(params, "media_id")
    if media_id is None:
        raise invalid_parameter("The parameter media_id is required")
    comment_id = _id_param(params, "comment_id")
    text = message_param(params, INSTAGRAM)
    if comment_id is None:
        target = public.caption_mention(media_id)
        if target is None:
            raise invalid_parameter(f"media_id {media_id} is not a media whose caption mentions this account")
    else:
        target = public.comment_mention(comment_id)
        if target is None or target.post_id != media_id:
            raise invalid_parameter(
                f"comment_id {comment_id} is not a comment mentioning this account on media {media_id}"
            )
    author = Author(config.ig_id, username=IG_USERNAME)
    post = public.get(INSTAGRAM, target.post_id) or target
    reply = PublicItem(
        INSTAGRAM, COMMENT, public.new_comment_id(post), post.id, target.id, author, text, state.clock(), True
    )
    return public.add(reply)


async def reply(request: web.Request) -> web.Response:
    """`POST /{v}/{ig-user-id}/mentions`: answer a mention in public; recorded as a `public_reply`."""
    config = request.app[CONFIG_KEY]
    state = request.app[STATE_KEY]
    node = request.match_info["node"]
    try:
        params, unreadable = await graph_params(request), None
    except GraphError as err:
        params, unreadable = {}, err
    token = access_token(request, params)
    token_platform = config.platform_for_token(token)
    target = _target(params)
    message = params.get("message")
    action = state.public.start_action(
        PUBLIC_NAME.get(token_platform or ""),
        "public_reply",
        target,
        message if isinstance(message, str) else None,
        request.path,
    )
    headers: dict[str, str] = {}
    try:
        token_platform = await first_checks(request, params, token, token_platform, target, "public_reply")
        if unreadable is not None:
            raise unreadable
        if token_platform != INSTAGRAM or node != config.ig_id:
            raise unsupported_post(node)
        answer: dict[str, Any] = {"id": _reply(state, config, params).id}
        status = 200
    except GraphError as err:
        answer, status = err.body(), err.status
        headers.update(www_authenticate(err))
    except asyncio.CancelledError:
        action.finish(499, {"error": {"message": "client went away before the answer"}})
        raise
    action.finish(status, answer, answer.get("id"))
    return web.json_response(answer, status=status, headers=headers)


def _target(params: dict[str, Any]) -> str | None:
    """What a reply answers: the mentioning comment, else the media (as recorded and failure-matched)."""
    for name in ("comment_id", "media_id"):
        value = params.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def add_routes(app: web.Application) -> None:
    """Register the mention routes (reading the account node, and the mentions edge)."""
    app.router.add_get(NODE_ROUTE, read_account)
    app.router.add_post(MENTIONS_ROUTE, reply)
