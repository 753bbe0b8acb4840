"""The fake X API under `/x`: DM sends, media uploads, DM and tweet photo downloads, checked like X.

Order of checks: OAuth 1.0a signature (401), injected failure (`/_sim/fail`), request shape (400).
Every call is recorded in `/_sim/sends` with platform "twitter", accepted or not. After a DM is
accepted, X's Account Activity API echoes it to our webhook; so does the fake, in the background.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, web

from bot.simulator.background import spawn
from bot.simulator.const import TWITTER, X_API_PREFIX, X_MEDIA_EXPIRES_SECONDS, X_MEDIA_MAX_BYTES
from bot.simulator.errors import sim_error
from bot.simulator.keys import CONFIG_KEY, SESSION_KEY, STATE_KEY
from bot.simulator.media import ALIASES, image_size, sniff_image_type
from bot.simulator.state import SendRecord
from bot.simulator.webhooks import deliver, encode
from bot.simulator.x_errors import (
    XProblem,
    injected,
    invalid_request,
    problem,
    rate_limit_headers,
    unauthorized,
)
from bot.simulator.x_oauth import Credentials, OAuthError, SignedRequest, base_string_uri, verify
from bot.simulator.x_payloads import DirectMessage, dm_webhook
from bot.simulator.x_state import XMedia
from bot.simulator.x_validation import DmRequest, check_upload, validate_dm
from bot.simulator.x_webhooks import x_signature_headers

log = logging.getLogger(__name__)

DM_ROUTE = X_API_PREFIX + "/2/dm_conversations/with/{participant_id}/messages"
UPLOAD_ROUTE = X_API_PREFIX + "/2/media/upload"
TON_ROUTE = X_API_PREFIX + "/1.1/ton/data/dm/{event_id}/{media_id}/{name}"
TWEET_MEDIA_ROUTE = X_API_PREFIX + "/pbs/media/{tweet_id}/{media_id}/{name}"
NOT_JSON = object()


def public_base(request: web.Request) -> str:
    """The simulator's address for URLs put into webhooks."""
    return request.app[CONFIG_KEY].public_url or f"{request.scheme}://{request.host}"


def ton_url(base: str, event_id: str, media: XMedia, name: str) -> str:
    """Where a DM's photo is served (needs OAuth, like ton.twitter.com)."""
    return f"{base}{X_API_PREFIX}/1.1/ton/data/dm/{event_id}/{media.media_id}/{name}"


async def authorize(request: web.Request) -> None:
    """Check the OAuth 1.0a signature over the URL as the client addressed it; 401 if anything is off."""
    config = request.app[CONFIG_KEY]
    form: list[tuple[str, str]] = []
    if request.content_type == "application/x-www-form-urlencoded":
        form = parse_qsl((await request.read()).decode("utf-8", "replace"), keep_blank_values=True)
    signed = SignedRequest(
        method=request.method,
        uri=base_string_uri(request.scheme, request.host, request.rel_url.raw_path),
        query=tuple(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True)),
        form=tuple(form),
    )
    credentials = Credentials(
        config.x_consumer_key, config.x_consumer_secret, config.x_access_token, config.x_access_token_secret
    )
    x = request.app[STATE_KEY].x
    try:
        verify(signed, request.headers.get("Authorization"), credentials, x.clock(), x.nonces)
    except OAuthError as err:
        log.info("X API call %s %s refused: %s", request.method, request.path, err)
        raise unauthorized() from err


async def check_injected(request: web.Request, recipient_id: str | None, kind: str) -> dict[str, str]:
    """Apply a matching `/_sim/fail` rule (delay, then error); else count the call for the headers."""
    state = request.app[STATE_KEY]
    rule = state.take_failure(TWITTER, recipient_id, kind)
    if rule is not None:
        if rule.delay > 0:
            await asyncio.sleep(rule.delay)
        if rule.status is not None:
            reset_at = state.clock() + rule.reset_in
            raise injected(rule.status, state.x.rate_limit(kind), reset_at, rule.message)
    return rate_limit_headers(*state.x.count_call(kind))


def _finish(record: SendRecord, status: int, response: dict[str, Any]) -> None:
    record.status = status
    record.accepted = 200 <= status < 300
    record.response = response
    record.pending = False


Work = Awaitable[tuple[dict[str, Any], dict[str, str], Any]]


async def run_work(
    work: Work, success_status: int, finish: Callable[[int, dict[str, Any]], None]
) -> tuple[int, dict[str, Any], dict[str, str], Any]:
    """Run `work` (a coroutine giving (answer, headers, result)); map X's refusals; `finish` the record."""
    try:
        answer, headers, result = await work
        status = success_status
    except XProblem as err:
        answer, headers, result, status = err.body, err.headers, None, err.status
    except asyncio.CancelledError:
        finish(499, {"detail": "client went away before the answer"})
        raise
    finish(status, answer)
    return status, answer, headers, result


async def _answer(
    record: SendRecord, work: Work, success_status: int
) -> tuple[int, dict[str, Any], dict[str, str], Any]:
    """`run_work` for a DM-side call, recorded among the sends."""
    return await run_work(work, success_status, lambda status, answer: _finish(record, status, answer))


def decode_json(raw: bytes) -> Any:
    """The JSON body, or NOT_JSON (the route answers X's invalid-request problem after its other checks)."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return NOT_JSON


async def checked_json(request: web.Request, body: Any, target_id: str | None, kind: str) -> dict[str, str]:
    """What X checks first on a JSON route: the signature, an injected failure, then that it is JSON."""
    await authorize(request)
    headers = await check_injected(request, target_id, kind)
    if body is NOT_JSON:
        raise invalid_request("The request body is not valid JSON")
    return headers


# ---- POST /x/2/dm_conversations/with/{participant_id}/messages -------------------------------------


async def send_dm(request: web.Request) -> web.Response:
    """Send a one-to-one DM; 201 `{"data": {"dm_conversation_id", "dm_event_id"}}`."""
    raw = await request.read()
    body = decode_json(raw)
    participant_id = request.match_info["participant_id"]
    recorded = raw.decode("utf-8", "replace") if body is NOT_JSON else body
    record = request.app[STATE_KEY].start_record(TWITTER, participant_id, recorded, request.path)
    status, answer, headers, dm = await _answer(record, _send_dm(request, body, participant_id), 201)
    if isinstance(dm, DmRequest) and request.app[STATE_KEY].x.echoes_enabled:
        event_id = answer["data"]["dm_event_id"]
        spawn(request.app, _echo(request.app, dm, event_id, public_base(request)))
    return web.json_response(answer, status=status, headers=headers)


async def _send_dm(
    request: web.Request, body: Any, participant_id: str
) -> tuple[dict[str, Any], dict[str, str], DmRequest]:
    config = request.app[CONFIG_KEY]
    x = request.app[STATE_KEY].x
    headers = await checked_json(request, body, participant_id, "message")
    dm = validate_dm(body, participant_id, config.x_user_id, x)
    low, high = sorted((int(participant_id), int(config.x_user_id)))
    answer = {"data": {"dm_conversation_id": f"{low}-{high}", "dm_event_id": x.new_id()}}
    return answer, headers, dm


async def _echo(app: web.Application, dm: DmRequest, event_id: str, base: str) -> None:
    """Deliver the Account Activity echo of a DM we sent, signed, and remember how it went."""
    config = app[CONFIG_KEY]
    x = app[STATE_KEY].x
    brand = x.brand(config.x_user_id, config.x_screen_name)
    url = None
    if dm.media is not None:
        url = ton_url(base, event_id, dm.media, x.add_ton(event_id, dm.media))
    message = DirectMessage(
        event_id=event_id,
        created_ms=int(x.clock() * 1000),
        sender=brand,
        recipient=x.user(dm.participant_id),
        text=dm.text,
        media=dm.media,
        ton_url=url,
        from_app=True,
    )
    webhook = dm_webhook(config.x_user_id, message, x.find_screen_name)
    raw = encode(webhook)
    headers = x_signature_headers(raw, config.x_consumer_secret)
    delivery = await deliver(
        app[SESSION_KEY], config.webhook_url(TWITTER), raw, headers, config.webhook_timeout
    )
    x.echo_deliveries.append({**delivery.to_json(), "dm_event_id": event_id, "webhook": webhook})


# ---- POST /x/2/media/upload ------------------------------------------------------------------------


async def upload_media(request: web.Request) -> web.Response:
    """Take one image (multipart field `media`, with `media_category`); answer X v2's `data` object."""
    record = request.app[STATE_KEY].start_record(TWITTER, None, {}, request.path)
    status, answer, headers, _ = await _answer(record, _upload(request, record.body), 200)
    return web.json_response(answer, status=status, headers=headers)


async def _upload(
    request: web.Request, recorded: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str], None]:
    await authorize(request)
    headers = await check_injected(request, None, "media_upload")
    if not request.content_type.startswith("multipart/form-data"):
        raise invalid_request("The simulator takes media uploads as multipart/form-data", {"media": []})
    try:
        fields, data = await _read_form(request, recorded)
    except ValueError as err:  # a malformed multipart body (aiohttp's parser says ValueError)
        raise invalid_request(f"The multipart body could not be read: {err}", {"media": []}) from err
    if not data:
        raise invalid_request("The multipart field `media` (the file) is required", {"media": []})
    declared = fields.get("media_type", "").lower()
    category, actual = check_upload(
        fields.get("media_category"), ALIASES.get(declared, declared), sniff_image_type(data)
    )
    state = request.app[STATE_KEY]
    media = state.x.add_media(state.put_media(actual, data), actual, len(data), image_size(data), category)
    image: dict[str, Any] = {"image_type": actual}
    if media.width is not None:
        image.update(w=media.width, h=media.height)
    answer = {
        "data": {
            "id": media.media_id,
            "media_key": media.media_key,
            "size": media.size,
            "expires_after_secs": X_MEDIA_EXPIRES_SECONDS,
            "image": image,
        }
    }
    return answer, headers, None


async def _read_form(request: web.Request, recorded: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """Text fields and the `media` file of a multipart upload, refusing files over 5 MB early."""
    fields: dict[str, str] = {}
    data = b""
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.name == "media" and not data:
            recorded.update(filename=part.filename, content_type=part.headers.get("Content-Type"))
            chunks: list[bytes] = []
            size = 0
            while chunk := await part.read_chunk():
                size += len(chunk)
                if size > X_MEDIA_MAX_BYTES:
                    recorded["size"] = f"> {X_MEDIA_MAX_BYTES}"
                    raise invalid_request(f"File size exceeds {X_MEDIA_MAX_BYTES} bytes.", {"media": []})
                chunks.append(chunk)
            data = b"".join(chunks)
            recorded["size"] = len(data)
        else:
            fields[part.name] = (await part.text())[:200]
            recorded[part.name] = fields[part.name]
    return fields, data


# ---- GET /x/1.1/ton/data/dm/{event_id}/{media_id}/{name} and /x/pbs/media/{tweet_id}/... -----------


async def dm_media(request: web.Request) -> web.Response:
    """Serve a DM's photo to a signed request, like ton.twitter.com."""
    return await _serve_photo(request, request.match_info["event_id"])


async def tweet_media(request: web.Request) -> web.Response:
    """Serve a customer tweet's photo, to signed requests only (like DM photos)."""
    return await _serve_photo(request, tweet_photo_key(request.match_info["tweet_id"]))


def tweet_photo_key(tweet_id: str) -> str:
    """The key a tweet's photo is published under (kept apart from DM event ids)."""
    return "tweet-" + tweet_id


def tweet_photo_url(base: str, tweet_id: str, media: XMedia, name: str) -> str:
    """Where a customer tweet's photo is served (needs OAuth, like DM photos)."""
    return f"{base}{X_API_PREFIX}/pbs/media/{tweet_id}/{media.media_id}/{name}"


async def _serve_photo(request: web.Request, key: str) -> web.Response:
    state = request.app[STATE_KEY]
    record = state.start_record(TWITTER, None, None, request.path)
    status, answer, headers, media = await _answer(record, _ton(request, key), 200)
    if media is None:
        return web.json_response(answer, status=status, headers=headers)
    headers.update({"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})
    return web.Response(body=media.data, content_type=media.content_type, headers=headers)


async def _ton(request: web.Request, key: str) -> tuple[dict[str, Any], dict[str, str], Any]:
    await authorize(request)
    headers = await check_injected(request, None, "media_download")
    state = request.app[STATE_KEY]
    info = request.match_info
    media = state.x.ton_media(key, info["media_id"], info["name"])
    stored = state.get_media(media.store_id) if media is not None else None
    if stored is None:
        raise problem(404, "Sorry, that page does not exist")
    return {"content_type": stored.content_type, "size": len(stored.data)}, headers, stored


async def sim_media(request: web.Request) -> web.Response:
    """`GET /_sim/x/media/{media_id}`: any X media id's image, without OAuth (for the customer page)."""
    state = request.app[STATE_KEY]
    media = state.x.any_media(request.match_info["media_id"])
    stored = state.get_media(media.store_id) if media is not None else None
    if stored is None:
        raise sim_error(404, "no such X media id (kept in memory until the simulator restarts)")
    return web.Response(body=stored.data, content_type=stored.content_type)


def add_routes(app: web.Application) -> None:
    """Register the fake X API's DM and media routes."""
    app.router.add_post(DM_ROUTE, send_dm)
    app.router.add_post(UPLOAD_ROUTE, upload_media)
    app.router.add_get(TON_ROUTE, dm_media)
    app.router.add_get(TWEET_MEDIA_ROUTE, tweet_media)
    app.router.add_get("/_sim/x/media/{media_id}", sim_media)
