"""The simulator's control API under `/_sim/`: what tests and the page use to drive and inspect the fake.

X's own control routes (`/_sim/x/...`) and its customer messages live in x_control.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from bot.simulator import x_control
from bot.simulator.const import META_PLATFORMS, PLATFORMS, TWITTER, X_DEFAULT_RESET_IN
from bot.simulator.errors import sim_error
from bot.simulator.keys import CONFIG_KEY, SESSION_KEY, STATE_KEY
from bot.simulator.state import FailureRule
from bot.simulator.webhooks import (
    SIGN_MODES,
    CustomerMessage,
    InvalidDescription,
    build_customer_webhook,
    deliver,
    encode,
    inbound_senders,
    signature_headers,
    verify,
)
from bot.simulator.x_webhooks import x_signature_headers

MAX_DELAY_SECONDS = 300.0
MAX_RESET_IN_SECONDS = 3600.0
FAILURE_KINDS = (
    "message",
    "sender_action",
    "media_upload",
    "media_download",
    "public_reply",
    "hide",
    "mention_lookup",
    "profile",
)
STICKER_PATH = "/static/like.png"


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise sim_error(400, "body must be JSON") from err
    if not isinstance(data, dict):
        raise sim_error(400, "body must be a JSON object")
    return data


def _platform(value: Any) -> str:
    if value not in PLATFORMS:
        raise sim_error(400, f"platform must be one of {', '.join(PLATFORMS)}")
    return str(value)


def _meta_platform(value: Any) -> str:
    if value not in META_PLATFORMS:
        raise sim_error(400, f"platform must be one of {', '.join(META_PLATFORMS)} here")
    return str(value)


def _optional_platform(value: Any) -> str | None:
    return None if value is None else _platform(value)


def _number(data: dict[str, Any], key: str, default: float | None = None) -> float | None:
    value = data.get(key, default)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise sim_error(400, f"{key} must be a number")
    return value


async def health(_request: web.Request) -> web.Response:
    """`GET /_sim/health`."""
    return web.json_response({"ok": True})


async def public_config(request: web.Request) -> web.Response:
    """`GET /_sim/config`: ids and addresses (no secrets), for the page and for tests building payloads."""
    config = request.app[CONFIG_KEY]
    base = config.public_url or f"{request.scheme}://{request.host}"
    return web.json_response(
        {
            "app_id": config.app_id,
            "page_id": config.page_id,
            "ig_id": config.ig_id,
            "x": {
                "user_id": config.x_user_id,
                "screen_name": config.x_screen_name,
                "api_url": config.x_api_url(base),
            },
            "webhook_urls": {platform: config.webhook_url(platform) for platform in PLATFORMS},
        }
    )


async def list_sends(request: web.Request) -> web.Response:
    """`GET /_sim/sends?platform=&recipient=`: recorded Send API calls in arrival order."""
    platform = _optional_platform(request.query.get("platform") or None)
    records = request.app[STATE_KEY].sends(platform, request.query.get("recipient") or None)
    return web.json_response([record.to_json() for record in records])


async def clear_sends(request: web.Request) -> web.Response:
    """`DELETE /_sim/sends`."""
    request.app[STATE_KEY].clear_sends()
    return web.json_response({"ok": True})


async def add_failure(request: web.Request) -> web.Response:
    """`POST /_sim/fail`: the next `count` matching Send API calls fail with `status` (after `delay`)."""
    data = await _json_object(request)
    status = data.get("status")
    valid_status = isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599
    if status is not None and not valid_status:
        raise sim_error(400, "status must be an HTTP error status (400-599)")
    count = data.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise sim_error(400, "count must be a positive integer")
    delay = _number(data, "delay", 0.0) or 0.0
    if not 0 <= delay <= MAX_DELAY_SECONDS:
        raise sim_error(400, f"delay must be between 0 and {MAX_DELAY_SECONDS:g} seconds")
    if status is None and delay == 0:
        raise sim_error(400, "give a status, a delay, or both")
    recipient = data.get("recipient")
    kind = data.get("kind")
    if kind is not None and kind not in FAILURE_KINDS:
        raise sim_error(400, f"kind must be one of {', '.join(FAILURE_KINDS)}")
    reset_in = _number(data, "reset_in", X_DEFAULT_RESET_IN)
    if reset_in is None or not 0 <= reset_in <= MAX_RESET_IN_SECONDS:
        raise sim_error(400, f"reset_in must be between 0 and {MAX_RESET_IN_SECONDS:g} seconds")
    for key in ("recipient", "message"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise sim_error(400, f"{key} must be a string")
    for key in ("code", "error_subcode"):
        if data.get(key) is not None and (not isinstance(data[key], int) or isinstance(data[key], bool)):
            raise sim_error(400, f"{key} must be an integer")
    rule = FailureRule(
        remaining=count,
        status=status,
        recipient=recipient,
        platform=_optional_platform(data.get("platform")),
        kind=kind,
        delay=float(delay),
        code=data.get("code"),
        subcode=data.get("error_subcode"),
        message=data.get("message"),
        reset_in=float(reset_in),
    )
    request.app[STATE_KEY].add_failure(rule)
    return web.json_response({"ok": True, "pending": len(request.app[STATE_KEY].pending_failures())})


async def clear_failures(request: web.Request) -> web.Response:
    """`DELETE /_sim/fail`."""
    request.app[STATE_KEY].clear_failures()
    return web.json_response({"ok": True})


async def set_inbound_time(request: web.Request) -> web.Response:
    """`POST /_sim/inbound_time`: pretend the user last wrote at `timestamp` (epoch seconds)."""
    data = await _json_object(request)
    platform = _meta_platform(data.get("platform"))
    user_id = data.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise sim_error(400, "user_id must be a non-empty string")
    timestamp = _number(data, "timestamp")
    if timestamp is None:
        raise sim_error(400, "timestamp (epoch seconds) is required")
    request.app[STATE_KEY].note_inbound(platform, user_id, float(timestamp))
    return web.json_response({"ok": True})


async def send_webhook(request: web.Request) -> web.Response:
    """`POST /_sim/webhook`: sign `body` (or the exact text `raw`) and post it to our connector."""
    data = await _json_object(request)
    platform = _platform(data.get("platform"))
    sign = data.get("sign", "valid")
    if sign not in SIGN_MODES:
        raise sim_error(400, f"sign must be one of {', '.join(SIGN_MODES)}")
    if isinstance(data.get("raw"), str):
        raw = data["raw"].encode()
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            body = None
    elif "body" in data:
        body = data["body"]
        raw = encode(body)
    else:
        raise sim_error(400, "give body (a JSON value) or raw (exact text to send)")
    config = request.app[CONFIG_KEY]
    state = request.app[STATE_KEY]
    if platform == TWITTER:
        headers = x_signature_headers(raw, config.x_consumer_secret, sign)
    else:
        # Remember the inbound time before delivering: the connector may answer before we hear back.
        for user_id in inbound_senders(body, config.account_id(platform)):
            state.note_inbound(platform, user_id)
        headers = signature_headers(raw, config.app_secret, sign)
    delivery = await deliver(
        request.app[SESSION_KEY], config.webhook_url(platform), raw, headers, config.webhook_timeout
    )
    return web.json_response(delivery.to_json(), status=200 if delivery.status is not None else 502)


async def customer_message(request: web.Request) -> web.Response:
    """`POST /_sim/customer_message`: build a real-shaped webhook from a simple description and send it."""
    data = await _json_object(request)
    if data.get("platform") == TWITTER:
        return await x_control.customer_message(request, data)
    try:
        message = CustomerMessage.from_json(data)
    except InvalidDescription as err:
        raise sim_error(400, str(err)) from err
    config = request.app[CONFIG_KEY]
    state = request.app[STATE_KEY]
    base = config.public_url or f"{request.scheme}://{request.host}"
    now_ms = int(time.time() * 1000)
    account_id = config.account_id(message.platform)
    webhook, mid = build_customer_webhook(message, account_id, now_ms, base + STICKER_PATH)
    raw = encode(webhook)
    state.note_inbound(message.platform, message.user_id)
    delivery = await deliver(
        request.app[SESSION_KEY],
        config.webhook_url(message.platform),
        raw,
        signature_headers(raw, config.app_secret),
        config.webhook_timeout,
    )
    answer = {**delivery.to_json(), "mid": mid, "webhook": webhook}
    return web.json_response(answer, status=200 if delivery.status is not None else 502)


async def verify_subscription(request: web.Request) -> web.Response:
    """`POST /_sim/verify {"platform", "verify_token"?}`: Meta's subscription check (GET) of our connector."""
    data = await _json_object(request)
    platform = _meta_platform(data.get("platform"))
    config = request.app[CONFIG_KEY]
    token = data.get("verify_token", config.verify_token)
    if not isinstance(token, str):
        raise sim_error(400, "verify_token must be a string")
    session = request.app[SESSION_KEY]
    answer = await verify(session, config.webhook_url(platform), token, config.webhook_timeout)
    return web.json_response(answer)


def add_routes(app: web.Application) -> None:
    """Register the control API."""
    app.router.add_get("/_sim/health", health)
    app.router.add_get("/_sim/config", public_config)
    app.router.add_get("/_sim/sends", list_sends)
    app.router.add_delete("/_sim/sends", clear_sends)
    app.router.add_post("/_sim/fail", add_failure)
    app.router.add_delete("/_sim/fail", clear_failures)
    app.router.add_post("/_sim/inbound_time", set_inbound_time)
    app.router.add_post("/_sim/webhook", send_webhook)
    app.router.add_post("/_sim/customer_message", customer_message)
    app.router.add_post("/_sim/verify", verify_subscription)
