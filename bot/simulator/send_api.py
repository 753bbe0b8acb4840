"""The fake Send API: `POST /{version}/{me|page-id|ig-id}/messages`, checked and answered like Meta.

Order of checks: access token (decides the platform), target node, appsecret_proof, injected failure,
JSON body, request shape and limits, messaging window. Every call is recorded, accepted or not.
A private reply (`recipient: {"comment_id"}`) is checked against the comment instead of the window
(graph_public.py) and is also recorded as a public action.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from aiohttp import web

from bot.simulator.config import SimulatorConfig
from bot.simulator.const import INSTAGRAM, PUBLIC_NAME
from bot.simulator.graph_auth import access_token, check_appsecret_proof, unsupported_post
from bot.simulator.graph_errors import (
    GraphError,
    injected,
    invalid_parameter,
    invalid_token,
    www_authenticate,
)
from bot.simulator.graph_public import claim_private_reply
from bot.simulator.keys import CONFIG_KEY, STATE_KEY
from bot.simulator.public_state import PublicAction
from bot.simulator.state import SendRecord
from bot.simulator.validation import comment_of, kind_of, recipient_of, text_of, validate_send
from bot.simulator.window import window_error

ROUTE = r"/{version:v\d+\.\d+}/{node}/messages"
_NOT_JSON = object()


def new_message_id() -> str:
    """A message id in the `m_...` form Meta returns."""
    return "m_" + secrets.token_urlsafe(32)


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _NOT_JSON


def _check_node(node: str, platform: str, config: SimulatorConfig) -> None:
    allowed = {"me", config.page_id} | ({config.ig_id} if platform == INSTAGRAM else set())
    if node not in allowed:
        raise unsupported_post(node)


async def _answer(request: web.Request, body: Any, token: str | None, platform: str | None) -> dict[str, Any]:
    config = request.app[CONFIG_KEY]
    state = request.app[STATE_KEY]
    if platform is None or token is None:
        raise invalid_token()
    _check_node(request.match_info["node"], platform, config)
    check_appsecret_proof(request, body, token, config.app_secret)
    rule = state.take_failure(platform, recipient_of(body) or comment_of(body), kind_of(body))
    if rule is not None:
        if rule.delay > 0:
            await asyncio.sleep(rule.delay)
        if rule.status is not None:
            raise injected(rule.status, rule.code, rule.subcode, rule.message)
    if body is _NOT_JSON:
        raise invalid_parameter("The request body must be JSON (the simulator takes no form parameters)")
    send = validate_send(body, platform)
    if send.comment_id is not None:
        # A private reply: one message per comment, within 7 days of it; no messaging window.
        message_id = new_message_id()
        commenter = claim_private_reply(state.public, PUBLIC_NAME[platform], send.comment_id, message_id)
        return {"recipient_id": commenter, "message_id": message_id}
    refusal = window_error(send, state.last_inbound(platform, send.recipient_id or ""), state.clock())
    if refusal is not None:
        raise refusal
    if send.sender_action is not None:
        return {"recipient_id": send.recipient_id}
    return {"recipient_id": send.recipient_id, "message_id": new_message_id()}


def _finish(
    record: SendRecord, status: int, response: dict[str, Any], action: PublicAction | None = None
) -> None:
    record.status = status
    record.accepted = status == 200
    record.response = response
    record.pending = False
    if record.accepted and record.recipient_id is None:
        record.recipient_id = response.get("recipient_id")  # a private reply: listed under the commenter
    if action is not None:
        action.finish(status, response, response.get("message_id"))


async def send_message(request: web.Request) -> web.Response:
    """Handle one Send API call; a private reply (recipient `comment_id`) is also a public action."""
    raw = await request.read()
    body = _decode(raw)
    token = access_token(request)
    platform = request.app[CONFIG_KEY].platform_for_token(token)
    recorded_body = raw.decode("utf-8", "replace") if body is _NOT_JSON else body
    state = request.app[STATE_KEY]
    record = state.start_record(platform, recipient_of(body), recorded_body, request.path)
    action = None
    if comment_of(body) is not None:
        public_platform = PUBLIC_NAME.get(platform or "")
        action = state.public.start_action(
            public_platform, "private_reply", comment_of(body), text_of(body), request.path
        )
    headers: dict[str, str] = {}
    try:
        answer = await _answer(request, body, token, platform)
        status = 200
    except GraphError as err:
        answer, status = err.body(), err.status
        headers.update(www_authenticate(err))
    except asyncio.CancelledError:
        _finish(record, 499, {"error": {"message": "client went away before the answer"}}, action)
        raise
    _finish(record, status, answer, action)
    return web.json_response(answer, status=status, headers=headers)
