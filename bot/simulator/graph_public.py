"""The fake Graph API's public side: reply under a comment, hide it, and the private-reply rules.

Facebook: `POST /{v}/{comment-id}/comments` (on a post id: a top-level comment by the Page) and
`POST /{v}/{comment-id}` with `is_hidden`. Instagram: `POST /{v}/{ig-comment-id}/replies` (on a
media id, `POST /{v}/{ig-media-id}/comments`) and `POST /{v}/{ig-comment-id}` with `hide`.
https://developers.facebook.com/docs/graph-api/reference/object/comments,
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment/replies
(replies go to the top-level comment; hidden comments take none). Parameters come from the query, a
form or a JSON body, as Graph takes them. Order of checks: token (decides the platform),
appsecret_proof, injected failure (kinds `public_reply` and `hide`, recipient the target id), target,
parameters. After a reply, Meta's webhook for our own new comment goes to our connector.

Instagram mentions are not the brand's media: these routes, and private replies, refuse their ids
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment:
comments found through mentions are reached through the Mentioned Comment node only); the mentions
edge answers them (graph_mentions.py).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from bot.simulator.background import spawn
from bot.simulator.config import SimulatorConfig
from bot.simulator.const import (
    CODE_ALREADY_REPLIED,
    CODE_CANNOT_REPLY,
    COMMENT_TEXT_LIMIT,
    FACEBOOK,
    IG_USERNAME,
    INSTAGRAM,
    MESSENGER,
    MSG_ALREADY_REPLIED,
    MSG_CANNOT_REPLY,
    PAGE_NAME,
    PRIVATE_REPLY_WINDOW_SECONDS,
    PUBLIC_NAME,
    SUBCODE_NO_MATCHING_USER,
)
from bot.simulator.graph_auth import access_token, check_appsecret_proof, unsupported_post
from bot.simulator.graph_errors import (
    GraphError,
    injected,
    invalid_parameter,
    invalid_token,
    www_authenticate,
)
from bot.simulator.keys import CONFIG_KEY, SESSION_KEY, STATE_KEY
from bot.simulator.public_payloads import facebook_comment_webhook, instagram_comment_webhook
from bot.simulator.public_state import COMMENT, POST, Author, PublicAction, PublicItem, PublicState
from bot.simulator.state import SimState
from bot.simulator.webhooks import deliver_meta

COMMENTS_ROUTE = r"/{version:v\d+\.\d+}/{node}/comments"
REPLIES_ROUTE = r"/{version:v\d+\.\d+}/{node}/replies"
NODE_ROUTE = r"/{version:v\d+\.\d+}/{node}"
HIDE_PARAM = {FACEBOOK: "is_hidden", INSTAGRAM: "hide"}
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


# ---- Private replies (the Send API with `recipient: {"comment_id"}`) --------------------------------


def claim_private_reply(public: PublicState, platform: str | None, comment_id: str, message_id: str) -> str:
    """The commenter a private reply goes to, once per comment and within 7 days; raises `GraphError`.

    Only comments on the brand's own posts qualify: a comment mentioning the brand elsewhere is refused
    like our own comments (10903), a mention's media id like any id that is no comment.
    """
    item = public.get(platform, comment_id) if platform else None
    if item is None or not public.is_comment(item):
        raise GraphError(message="(#100) No matching user found", code=100, subcode=SUBCODE_NO_MATCHING_USER)
    too_old = public.clock() - item.created_at > PRIVATE_REPLY_WINDOW_SECONDS
    if item.from_brand or too_old or not public.on_brand_post(item):
        raise GraphError(message=MSG_CANNOT_REPLY, code=CODE_CANNOT_REPLY)
    if item.private_reply_id is not None:
        raise GraphError(message=MSG_ALREADY_REPLIED, code=CODE_ALREADY_REPLIED)
    item.private_reply_id = message_id
    return item.author.id


# ---- Parameters ---------------------------------------------------------------------------------


async def graph_params(request: web.Request) -> dict[str, Any]:
    """Query parameters, then the form's or JSON body's fields (the body wins), as Graph merges them."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        params.update({name: value for name, value in form.items() if isinstance(value, str)})
        return params
    raw = await request.read()
    if not raw.strip():
        return params
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise invalid_parameter("The request body must be form fields or a JSON object") from err
    if not isinstance(body, dict):
        raise invalid_parameter("The request body must be form fields or a JSON object")
    params.update(body)
    return params


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    return _BOOLEANS.get(value.lower()) if isinstance(value, str) else None


def message_param(params: dict[str, Any], platform: str) -> str:
    """The `message` of a new comment: required, a string, within the platform's limit."""
    message = params.get("message")
    if message is None or (isinstance(message, str) and not message.strip()):
        raise invalid_parameter("The parameter message is required")
    if not isinstance(message, str):
        raise invalid_parameter("param message must be a string")
    limit = COMMENT_TEXT_LIMIT[platform]
    if len(message) > limit:
        raise invalid_parameter(f"param message must be at most {limit} characters long")
    return message


# ---- What each route does, once the call is authorised -------------------------------------------


def _reply(
    state: SimState, config: SimulatorConfig, platform: str, node: str, edge: str, params: dict[str, Any]
) -> PublicItem:
    """Our public comment under `node` through `edge` (`comments` or `replies`)."""
    public = state.public
    target = public.get(platform, node)
    allowed = target is not None and (
        (platform == FACEBOOK and edge == "comments")
        or (platform == INSTAGRAM and (edge == "replies") == (target.kind == COMMENT))
    )
    if target is None or not allowed or not public.on_brand_post(target):
        raise unsupported_post(node)
    text = message_param(params, platform)
    if platform == INSTAGRAM and target.hidden:
        raise invalid_parameter("Hidden comments cannot be replied to")
    post = public.get(platform, target.post_id) or target
    parent = target if target.kind == POST else public.top_level(target)
    if platform == FACEBOOK:
        author = Author(config.page_id, name=PAGE_NAME)
    else:
        author = Author(config.ig_id, username=IG_USERNAME)
    item = PublicItem(
        platform, COMMENT, public.new_comment_id(post), post.id, parent.id, author, text, state.clock(), True
    )
    return public.add(item)


def _hide(state: SimState, platform: str, node: str, params: dict[str, Any]) -> None:
    """Hide or show a comment."""
    target = state.public.get(platform, node)
    if target is None or target.kind != COMMENT or not state.public.on_brand_post(target):
        raise unsupported_post(node)
    name = HIDE_PARAM[platform]
    hidden = _boolean(params.get(name))
    if hidden is None:
        # A comment can also be edited (`message`) through this node; the simulator does hiding only.
        raise invalid_parameter(f"param {name} must be true or false (the simulator updates nothing else)")
    if target.from_brand:
        raise invalid_parameter("The account's own comments cannot be hidden (simulator rule)")
    target.hidden = hidden


def _kind(edge: str | None, params: dict[str, Any]) -> str:
    if edge is not None:
        return "public_reply"
    value = params.get("is_hidden", params.get("hide"))
    return "unhide" if _boolean(value) is False else "hide"


async def check_injected(state: SimState, token_platform: str, target: str | None, kind: str) -> None:
    """Apply the first matching `/_sim/fail` rule: wait its delay, then raise its error if it has one."""
    rule = state.take_failure(token_platform, target, kind)
    if rule is None:
        return
    if rule.delay > 0:
        await asyncio.sleep(rule.delay)
    if rule.status is not None:
        raise injected(rule.status, rule.code, rule.subcode, rule.message)


# ---- The routes ------------------------------------------------------------------------------------


async def first_checks(
    request: web.Request,
    params: dict[str, Any],
    token: str | None,
    token_platform: str | None,
    target: str | None,
    kind: str,
) -> str:
    """Graph's first checks on a public route, in its order; the token's platform, or `GraphError`.

    The token, appsecret_proof, then an injected failure (`kind`, on `target`).
    """
    if token is None or token_platform is None:
        raise invalid_token()
    check_appsecret_proof(request, params, token, request.app[CONFIG_KEY].app_secret)
    await check_injected(request.app[STATE_KEY], token_platform, target, kind)
    return token_platform


async def _handle(request: web.Request, edge: str | None) -> web.Response:
    """Authorise, apply failures, act, record the call, answer like Graph; then our own webhook."""
    config = request.app[CONFIG_KEY]
    state = request.app[STATE_KEY]
    node = request.match_info["node"]
    try:
        params, unreadable = await graph_params(request), None
    except GraphError as err:
        params, unreadable = {}, err
    token = access_token(request, params)
    token_platform = config.platform_for_token(token)
    platform = PUBLIC_NAME.get(token_platform or "")
    kind = _kind(edge, params)
    message = params.get("message") if edge is not None else None
    text = message if isinstance(message, str) else None
    action = state.public.start_action(platform, kind, node, text, request.path)
    headers: dict[str, str] = {}
    item = None
    try:
        checked = await first_checks(
            request, params, token, token_platform, node, "hide" if edge is None else "public_reply"
        )
        platform = PUBLIC_NAME[checked]
        if unreadable is not None:
            raise unreadable
        if edge is None:
            _hide(state, platform, node, params)
            answer: dict[str, Any] = {"success": True}
        else:
            item = _reply(state, config, platform, node, edge, params)
            answer = {"id": item.id}
        status = 200
    except GraphError as err:
        answer, status = err.body(), err.status
        headers.update(www_authenticate(err))
    except asyncio.CancelledError:
        action.finish(499, {"error": {"message": "client went away before the answer"}})
        raise
    action.finish(status, answer, answer.get("id"))
    if item is not None:
        item.webhook = comment_webhook(config, state.public, item)
        spawn(request.app, _deliver_own(request.app, item.platform, item.webhook, action))
    return web.json_response(answer, status=status, headers=headers)


def comment_webhook(config: SimulatorConfig, public: PublicState, item: PublicItem) -> dict[str, Any]:
    """Meta's webhook for a new comment on Facebook (Page `feed`) or Instagram (`comments`)."""
    if item.platform == FACEBOOK:
        post = public.get(FACEBOOK, item.post_id) or item
        return facebook_comment_webhook(config.page_id, item, post, public.clock())
    return instagram_comment_webhook(config.ig_id, item, public.clock())


def comment_webhook_url(config: SimulatorConfig, platform: str) -> str:
    """Our connector's webhook for the Page (the Messenger one: Meta uses one per app) or Instagram."""
    return config.webhook_url(MESSENGER if platform == FACEBOOK else INSTAGRAM)


async def _deliver_own(
    app: web.Application, platform: str, body: dict[str, Any], action: PublicAction
) -> None:
    """Post the webhook for our own new comment after answering, as Meta does, and note how it went."""
    config = app[CONFIG_KEY]
    url = comment_webhook_url(config, platform)
    delivery = await deliver_meta(app[SESSION_KEY], url, body, config.app_secret, config.webhook_timeout)
    action.own_webhook = {**delivery.to_json(), "webhook": body}


async def comment(request: web.Request) -> web.Response:
    """`POST /{v}/{node}/comments`: a Facebook reply (or comment on a post); an IG comment on media."""
    return await _handle(request, "comments")


async def reply(request: web.Request) -> web.Response:
    """`POST /{v}/{ig-comment-id}/replies`: an Instagram reply."""
    return await _handle(request, "replies")


async def update(request: web.Request) -> web.Response:
    """`POST /{v}/{comment-id}` with `is_hidden` (Facebook) or `hide` (Instagram)."""
    return await _handle(request, None)


def add_routes(app: web.Application) -> None:
    """Register the public Graph routes (beside the Send API's `/{v}/{node}/messages`)."""
    app.router.add_post(COMMENTS_ROUTE, comment)
    app.router.add_post(REPLIES_ROUTE, reply)
    app.router.add_post(NODE_ROUTE, update)
