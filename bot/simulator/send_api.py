"""The fake Send API: `POST /{version}/{me|page-id|ig-id}/messages`, checked and answered like Meta.

Order of checks: access token (decides the platform), target node, appsecret_proof, injected failure,
JSON body, request shape and limits, messaging window. Every call is recorded, accepted or not.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from typing import Any

from aiohttp import web

from bot.simulator.config import SimulatorConfig
from bot.simulator.const import (
    CODE_INVALID_TOKEN,
    CODE_UNSUPPORTED_POST,
    INSTAGRAM,
    MSG_BAD_APPSECRET_PROOF,
    SUBCODE_UNSUPPORTED_POST,
)
from bot.simulator.graph_errors import GraphError, injected, invalid_parameter, invalid_token
from bot.simulator.keys import CONFIG_KEY, STATE_KEY
from bot.simulator.state import SendRecord
from bot.simulator.validation import kind_of, recipient_of, validate_send
from bot.simulator.window import window_error

ROUTE = r"/{version:v\d+\.\d+}/{node}/messages"
_NOT_JSON = object()


def new_message_id() -> str:
    """A message id in the `m_...` form Meta returns."""
    return "m_" + secrets.token_urlsafe(32)


def access_token(request: web.Request) -> str | None:
    """The token from `?access_token=` or `Authorization: Bearer ...`."""
    token = request.query.get("access_token")
    if token:
        return token
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _NOT_JSON


def _check_node(node: str, platform: str, config: SimulatorConfig) -> None:
    allowed = {"me", config.page_id} | ({config.ig_id} if platform == INSTAGRAM else set())
    if node not in allowed:
        raise GraphError(
            message=(
                f"Unsupported post request. Object with ID '{node}' does not exist, cannot be loaded due "
                "to missing permissions, or does not support this operation."
            ),
            code=CODE_UNSUPPORTED_POST,
            subcode=SUBCODE_UNSUPPORTED_POST,
            type="GraphMethodException",
        )


def _check_appsecret_proof(request: web.Request, body: Any, token: str, secret: str) -> None:
    """Graph checks `appsecret_proof` (HMAC-SHA256 of the token with the app secret) when it is sent."""
    proof = request.query.get("appsecret_proof")
    if proof is None and isinstance(body, dict):
        proof = body.get("appsecret_proof")
    if proof is None:
        return
    expected = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    if not isinstance(proof, str) or not hmac.compare_digest(proof, expected):
        raise GraphError(message=MSG_BAD_APPSECRET_PROOF, code=100, type="GraphMethodException")


async def _answer(request: web.Request, body: Any, token: str | None, platform: str | None) -> dict[str, Any]:
    config = request.app[CONFIG_KEY]
    state = request.app[STATE_KEY]
    if platform is None or token is None:
        raise invalid_token()
    _check_node(request.match_info["node"], platform, config)
    _check_appsecret_proof(request, body, token, config.app_secret)
    rule = state.take_failure(platform, recipient_of(body), kind_of(body))
    if rule is not None:
        if rule.delay > 0:
            await asyncio.sleep(rule.delay)
        if rule.status is not None:
            raise injected(rule.status, rule.code, rule.subcode, rule.message)
    if body is _NOT_JSON:
        raise invalid_parameter("The request body must be JSON (the simulator takes no form parameters)")
    send = validate_send(body, platform)
    refusal = window_error(send, state.last_inbound(platform, send.recipient_id), state.clock())
    if refusal is not None:
        raise refusal
    if send.sender_action is not None:
        return {"recipient_id": send.recipient_id}
    return {"recipient_id": send.recipient_id, "message_id": new_message_id()}


def _finish(record: SendRecord, status: int, response: dict[str, Any]) -> None:
    record.status = status
    record.accepted = status == 200
    record.response = response
    record.pending = False


async def send_message(request: web.Request) -> web.Response:
    """Handle one Send API call."""
    raw = await request.read()
    body = _decode(raw)
    token = access_token(request)
    platform = request.app[CONFIG_KEY].platform_for_token(token)
    recorded_body = raw.decode("utf-8", "replace") if body is _NOT_JSON else body
    record = request.app[STATE_KEY].start_record(platform, recipient_of(body), recorded_body, request.path)
    headers: dict[str, str] = {}
    try:
        answer = await _answer(request, body, token, platform)
        status = 200
    except GraphError as err:
        answer, status = err.body(), err.status
        if err.code == CODE_INVALID_TOKEN:
            headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{err.message}"'
    except asyncio.CancelledError:
        _finish(record, 499, {"error": {"message": "client went away before the answer"}})
        raise
    _finish(record, status, answer)
    return web.json_response(answer, status=status, headers=headers)
