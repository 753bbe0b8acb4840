"""The fake Graph API's User Profile API: a Messenger or Instagram customer's name and picture.

`GET /{v}/{PSID}?fields=first_name,last_name,profile_pic` with the Page token, and
`GET /{v}/{IGSID}?fields=name,username,profile_pic` with the Instagram account's token.
https://developers.facebook.com/docs/messenger-platform/identity/user-profile and
https://developers.facebook.com/docs/messenger-platform/instagram/features/user-profile: a profile is
readable only once the person has messaged the business (consent); Instagram refuses with code 230
("User consent is required to access user profile"), Messenger with 100/33 (the PSID cannot be loaded).
Checks, in order: token (decides the platform), appsecret_proof, injected failure (kind `profile`,
recipient the user id), `fields`, then consent. The answer holds the requested fields in order, then `id`.

`profile_pic` expires, as Meta's do (a few days): the URL carries its expiry and a signature, and
`/_sim/profile_pic/...` refuses it (403) afterwards. Customers who never set a profile get a made-up
name (the seeded demo customers get theirs); `POST /_sim/profile` sets one, or takes consent away.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from aiohttp import web

from bot.simulator.const import INSTAGRAM, MESSENGER
from bot.simulator.errors import sim_error
from bot.simulator.graph_auth import unsupported_get
from bot.simulator.graph_errors import GraphError, invalid_parameter, syntax_error, www_authenticate
from bot.simulator.graph_fields import FieldSyntaxError, parse_fields
from bot.simulator.graph_public import first_checks
from bot.simulator.keys import CONFIG_KEY, STATE_KEY
from bot.simulator.profile_book import SimProfile, made_up

PICTURE_ROUTE = "/_sim/profile_pic/{platform}/{user_id}.png"
PICTURE_SECONDS = 3 * 24 * 3600  # "The URL will expire in a few days"
CODE_NO_CONSENT = 230
MSG_NO_CONSENT = "(#230) User consent is required to access user profile"
FIELDS = {MESSENGER: ("id", "first_name", "last_name", "name", "profile_pic"), INSTAGRAM: (
    "id", "name", "username", "profile_pic", "is_verified_user", "follower_count",
    "is_user_follow_business", "is_business_follow_user",
)}  # fmt: skip


def _signature(secret: str, platform: str, user_id: str, expires: int) -> str:
    message = f"{platform}/{user_id}/{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def picture_url(request: web.Request, platform: str, user_id: str) -> str:
    """A profile picture URL that expires, like Meta's (`oe`: expiry, hex; `oh`: its signature)."""
    config, state = request.app[CONFIG_KEY], request.app[STATE_KEY]
    expires = int(state.clock()) + PICTURE_SECONDS
    base = config.public_url or f"{request.scheme}://{request.host}"
    path = PICTURE_ROUTE.format(platform=platform, user_id=user_id)
    return f"{base}{path}?oe={expires:x}&oh={_signature(config.app_secret, platform, user_id, expires)}"


def _answer(request: web.Request, platform: str, user_id: str, names: list[str]) -> dict[str, Any]:
    profile = request.app[STATE_KEY].profiles.get(platform, user_id)
    values: dict[str, Any] = {
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "name": profile.name or None,
        "username": profile.username,
        "profile_pic": picture_url(request, platform, user_id) if profile.picture else None,
        "is_verified_user": False,
        "follower_count": 0,
        "is_user_follow_business": False,
        "is_business_follow_user": False,
    }
    answer = {name: values[name] for name in names if name != "id"}
    answer["id"] = user_id
    return answer


async def read_profile(request: web.Request, platform: str | None, params: dict[str, str]) -> web.Response:
    """`GET /{v}/{user-id}` for a customer, once the token is known to be one of ours (`platform`)."""
    node = request.match_info["node"]
    headers: dict[str, str] = {}
    try:
        token_platform = await first_checks(
            request, params, params.get("access_token"), platform, node, "profile"
        )
        try:
            fields = parse_fields(params.get("fields", ""))
        except FieldSyntaxError as err:
            raise syntax_error(str(err)) from err
        names = [f.name for f in fields] or ["name"]  # no `fields`: Graph's default, the name
        unknown = [name for name in names if name not in FIELDS[token_platform]]
        if unknown:
            raise invalid_parameter(f"Tried accessing nonexisting field ({unknown[0]}) on node type (User)")
        state = request.app[STATE_KEY]
        consented = state.last_inbound(token_platform, node) is not None
        if not consented or not state.profiles.get(token_platform, node).consent:
            if token_platform == INSTAGRAM:
                raise GraphError(message=MSG_NO_CONSENT, code=CODE_NO_CONSENT)
            raise unsupported_get(node)
        answer, status = _answer(request, token_platform, node, names), 200
    except GraphError as err:
        answer, status = err.body(), err.status
        headers.update(www_authenticate(err))
    return web.json_response(answer, status=status, headers=headers)


async def serve_picture(request: web.Request) -> web.Response:
    """`GET /_sim/profile_pic/{platform}/{user}.png?oe=&oh=`: the avatar, until the URL expires."""
    config, state = request.app[CONFIG_KEY], request.app[STATE_KEY]
    platform, user_id = request.match_info["platform"], request.match_info["user_id"]
    try:
        expires = int(request.query.get("oe", ""), 16)
    except ValueError:
        raise web.HTTPForbidden(text="Bad URL hash") from None
    wanted = _signature(config.app_secret, platform, user_id, expires)
    if platform not in FIELDS or not hmac.compare_digest(request.query.get("oh", ""), wanted):
        raise web.HTTPForbidden(text="Bad URL hash")
    if state.clock() > expires:
        raise web.HTTPForbidden(text="URL signature expired")
    body = state.profiles.picture(platform, user_id)
    return web.Response(body=body, content_type="image/png", headers={"Cache-Control": "max-age=3600"})


async def set_profile(request: web.Request) -> web.Response:
    """`POST /_sim/profile`: {platform, user_id, first_name?, last_name?, username?, picture?, consent?}."""
    try:
        data = await request.json()
    except ValueError as err:
        raise sim_error(400, "body must be JSON") from err
    if not isinstance(data, dict) or data.get("platform") not in FIELDS:
        raise sim_error(400, "platform must be messenger or instagram (X sends profiles in its webhooks)")
    user_id = data.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise sim_error(400, "user_id is required")
    base = made_up(user_id)
    texts = {k: data.get(k, getattr(base, k)) for k in ("first_name", "last_name", "username")}
    flags = {k: data.get(k, True) for k in ("picture", "consent")}
    if not all(isinstance(v, str) for v in texts.values()) or not all(
        isinstance(v, bool) for v in flags.values()
    ):
        raise sim_error(
            400, "first_name, last_name and username are strings; picture and consent true or false"
        )
    profile = SimProfile(**texts, **flags)
    request.app[STATE_KEY].profiles.set(data["platform"], user_id, profile)
    return web.json_response({"platform": data["platform"], "user_id": user_id, "name": profile.name})


def add_routes(app: web.Application) -> None:
    """Register the picture and control routes (the profile read shares Graph's node route)."""
    app.router.add_get(PICTURE_ROUTE, serve_picture)
    app.router.add_post("/_sim/profile", set_profile)
