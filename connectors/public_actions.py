"""Public engagement: reply to a comment or mention in public or in private, hide or show a comment.

Asked for by the desk and the engagement worker, done through the channel that received the item.
`POST /webhooks/<channel>/public_action` is added to every platform channel by `WebhookChannel`, beside
`agent_reply`, with the same bearer token and the same idempotency on `client_id` (a retry gets the first
answer; nothing goes out twice). A channel only says how to do one action on its platform
(`WebhookChannel.public_action`). We act only on items this channel received (the `mentions` table):
never on an arbitrary post or account. Contract: connectors/README.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.agent_reply import MAX_CLIENT_ID, desk_token_problem, replay_problem
from connectors.limits import decode_body
from connectors.mentions import MentionStore, StoredItem
from connectors.metrics import count
from connectors.platform_client import PlatformError

if TYPE_CHECKING:
    from connectors.webhook_channel import WebhookChannel

logger = logging.getLogger(__name__)

REPLY, PRIVATE_REPLY, HIDE, UNHIDE = "reply", "private_reply", "hide", "unhide"
ACTIONS = (REPLY, PRIVATE_REPLY, HIDE, UNHIDE)
WITH_TEXT = (REPLY, PRIVATE_REPLY)
MAX_ITEM_ID = 64
MAX_ACTOR = 200
MAX_TEXT = 8_000  # Facebook's comment limit; the channel checks its own (X: 280, Instagram: 2,200)


class BadPublicAction(ValueError):
    """The request body is not a public action."""


class PublicActionRefused(Exception):
    """The platform's rules forbid this action (a second private reply, a reply too long for it)."""


@dataclass(frozen=True)
class PublicAction:
    """One action on one public item, as the desk or the engagement worker asks for it."""

    action: str
    item_id: str  # the platform's id of the comment or tweet
    text: str
    client_id: str  # unique per action, chosen by the caller; a retry repeats it
    actor: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """What a retry must repeat: the same action with the same text on the same item."""
        return hashlib.sha256(f"{self.action}\n{self.item_id}\n{self.text}".encode()).hexdigest()


def parse_public_action(raw: bytes) -> PublicAction:
    """The action in a request body, or BadPublicAction saying what is wrong."""
    try:
        body = decode_body(raw)
    except ValueError as err:
        raise BadPublicAction(f"the body is not JSON: {err}") from err
    if not isinstance(body, dict):
        raise BadPublicAction("the body must be a JSON object")
    action = body.get("action")
    if action not in ACTIONS:
        raise BadPublicAction(f"action must be one of {', '.join(ACTIONS)}")
    text = body.get("text", "")
    if action in WITH_TEXT:
        if not isinstance(text, str) or not text.strip():
            raise BadPublicAction(f"text must be a non-empty string for {action}")
        if len(text) > MAX_TEXT:
            raise BadPublicAction(f"text is longer than {MAX_TEXT} characters")
    elif text not in ("", None):
        raise BadPublicAction(f"{action} takes no text")
    values = {}
    for key, limit in (("item_id", MAX_ITEM_ID), ("client_id", MAX_CLIENT_ID), ("actor", MAX_ACTOR)):
        value = body.get(key)
        if not isinstance(value, str) or not value.strip():
            raise BadPublicAction(f"{key} must be a non-empty string")
        if len(value) > limit:
            raise BadPublicAction(f"{key} is longer than {limit} characters")
        values[key] = value
    return PublicAction(
        action, values["item_id"], (text or "").strip(), values["client_id"], values["actor"], body
    )


def _refusal(
    platform: str, status: int, error: str, detail: str, action: PublicAction | None = None
) -> HTTPResponse:
    """An error answer, logged and counted."""
    count("public_actions", platform, error)
    about = f" [{action.action} {action.item_id} client_id={action.client_id}]" if action else ""
    logger.warning("%s public action refused: %d %s: %s%s", platform, status, error, detail, about)
    headers = {"WWW-Authenticate": 'Bearer realm="public_action"'} if status == 401 else None
    return response.json({"error": error, "detail": detail}, status=status, headers=headers)


async def handle_public_action(channel: WebhookChannel, request: Request) -> HTTPResponse:
    """The route: token, body, the item (received by this channel), then at most one action per client id."""
    platform = channel.public_channel
    problem = desk_token_problem(channel, request, "public actions")
    if problem is not None:
        return _refusal(platform, *problem)
    try:
        action = parse_public_action(request.body or b"")
    except BadPublicAction as err:
        return _refusal(platform, 400, "bad_request", str(err))
    if channel.mentions is None:
        channel.mentions = MentionStore()
    item = await channel.mentions.find(platform, action.item_id)
    if item is None:
        detail = f"no {platform} comment or mention {action.item_id!r} was received"
        return _refusal(platform, 404, "unknown_item", detail, action)
    # A send once started finishes and is stored, even if the caller hangs up (see agent_reply).
    return await asyncio.shield(_act_once(channel, action, item))


async def _act_once(channel: WebhookChannel, action: PublicAction, item: StoredItem) -> HTTPResponse:
    """Claim the client id, act, keep the answer; a failed action frees the id again."""
    platform = channel.public_channel
    key = f"public:{action.client_id}"
    stored = await channel.state.claim_agent_reply(platform, key, action.fingerprint)
    if stored is not None:
        problem = replay_problem(
            stored,
            action.fingerprint,
            "this client_id was used for another action, item or text",
            "this action is under way; retry shortly",
        )
        if problem is not None:
            return _refusal(platform, *problem, action)
        count("public_actions", platform, "replayed")
        return response.json(stored["response"])
    done = False
    try:
        try:
            made = await channel.public_action(action.action, action.item_id, item, action.text)
        except PublicActionRefused as err:
            return _refusal(platform, 409, "refused", str(err), action)
        except PlatformError as err:
            return _refusal(platform, 502, "platform_error", str(err), action)
        body = {"status": "done", "action": action.action, "id": made}
        await channel.state.finish_agent_reply(platform, key, action.fingerprint, body)
        done = True
    finally:
        if not done:
            await channel.state.release_agent_reply(platform, key)
    count("public_actions", platform, action.action)
    logger.info(
        "%s %s on %s by %s done (%s)", platform, action.action, action.item_id, action.actor, made or "-"
    )
    return response.json(body)
