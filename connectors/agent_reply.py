"""Human agents' replies from the desk, sent through the channel that received the conversation.

`POST /webhooks/<channel>/agent_reply` is added to every platform channel by `WebhookChannel`; a
channel only says how to send one piece of text (`send_agent_piece`) and how long a piece may be.
Here: the desk's bearer token, the body, the conversation (it must have come in on this channel),
the send (long text split; Meta tags it HUMAN_AGENT outside 24 h and refuses it after 7 days), the
agent's turn in the Rasa tracker, and idempotency on `client_id`. Contract: connectors/README.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rasa.shared.core.events import BotUttered
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.bearer import bearer_matches
from bot.conversations.metadata import AGENT, UtteranceMetadata
from connectors.limits import decode_body
from connectors.meta_output import OutsideWindowError, split_text
from connectors.metrics import count
from connectors.turns import append_once

if TYPE_CHECKING:
    from connectors.webhook_channel import WebhookChannel

logger = logging.getLogger(__name__)

DESK_TOKEN_ENV = "DESK_API_TOKEN"
MAX_CLIENT_ID = 64
MAX_CONVERSATION_ID = 255
MAX_AGENT_NAME = 200
MAX_TEXT = 10_000  # X's DM limit; five Messenger or ten Instagram messages


class BadAgentReply(ValueError):
    """The request body is not an agent reply."""


class AgentSendError(Exception):
    """The platform refused a piece of an agent's reply (after the client's retries)."""


@dataclass(frozen=True)
class AgentReply:
    """One reply of a human agent, as the desk sends it."""

    conversation_id: str  # the Rasa sender id: the customer's id on the platform
    text: str
    client_id: str  # unique per reply, chosen by the desk; a retry repeats it
    agent_id: int | str
    agent_name: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """What a retry must repeat: the same text to the same conversation."""
        return hashlib.sha256(f"{self.conversation_id}\n{self.text}".encode()).hexdigest()


def desk_token_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The desk's token for the route (`DESK_API_TOKEN`); None (route disabled) when unset or empty."""
    from connectors.settings import ConnectorSettings

    return ConnectorSettings.from_env(env).desk_api_token


def _string(data: Mapping[str, Any], key: str, limit: int, label: str | None = None) -> str:
    value = data.get(key)
    label = label or key
    if not isinstance(value, str) or not value.strip():
        raise BadAgentReply(f"{label} must be a non-empty string")
    if len(value) > limit:
        raise BadAgentReply(f"{label} is longer than {limit} characters")
    return value


def parse_agent_reply(raw: bytes) -> AgentReply:
    """The reply in a request body, or BadAgentReply saying what is wrong."""
    try:
        body = decode_body(raw)  # bounded depth, no NaN or lone surrogates, as the webhooks
    except ValueError as err:
        raise BadAgentReply(f"the body is not JSON: {err}") from err
    if not isinstance(body, dict):
        raise BadAgentReply("the body must be a JSON object")
    agent = body.get("agent")
    if not isinstance(agent, dict):
        raise BadAgentReply('agent must be an object {"id": ..., "name": ...}')
    agent_id = agent.get("id")
    if isinstance(agent_id, bool) or not isinstance(agent_id, (int, str)) or agent_id == "":
        raise BadAgentReply("agent.id must be an integer or a non-empty string")
    return AgentReply(
        conversation_id=_string(body, "conversation_id", MAX_CONVERSATION_ID),
        text=_string(body, "text", MAX_TEXT),
        client_id=_string(body, "client_id", MAX_CLIENT_ID),
        agent_id=agent_id,
        agent_name=_string(agent, "name", MAX_AGENT_NAME, "agent.name"),
        raw=body,
    )


Problem = tuple[int, str, str]  # (HTTP status, error, detail) of a refusal


def desk_token_problem(channel: WebhookChannel, request: Request, what: str) -> Problem | None:
    """Why a desk route refuses this request's bearer token (None: it is the desk's).

    Shared by agent_reply and public_action: both routes send on the platform in our name.
    """
    if not channel.desk_token:
        return 503, "disabled", f"{what} disabled: set {DESK_TOKEN_ENV}"
    if not bearer_matches(request.headers.get("Authorization"), channel.desk_token):
        return 401, "unauthorized", "missing or wrong bearer token"
    return None


def replay_problem(stored: Mapping[str, Any], fingerprint: str, reused: str, busy: str) -> Problem | None:
    """Why a client id seen before cannot get the first answer (None: it can, nothing is sent again)."""
    if stored.get("fingerprint") != fingerprint:
        return 422, "client_id_reused", reused
    if stored.get("state") != "sent":
        return 409, "in_progress", busy
    return None


def _refusal(
    platform: str,
    status: int,
    error: str,
    detail: str,
    reply: AgentReply | None = None,
    **extra: Any,
) -> HTTPResponse:
    """An error answer, logged and counted (every refusal leaves a line in the log)."""
    count("agent_replies", platform, error)
    about = f" [client_id={reply.client_id} conversation={reply.conversation_id}]" if reply else ""
    logger.warning("%s agent reply refused: %d %s: %s%s", platform, status, error, detail, about)
    headers = {"WWW-Authenticate": 'Bearer realm="agent_reply"'} if status == 401 else None
    return response.json({"error": error, "detail": detail, **extra}, status=status, headers=headers)


async def handle_agent_reply(channel: WebhookChannel, request: Request) -> HTTPResponse:
    """The route: token, body, conversation, then at most one send per client id."""
    platform = channel.name()
    problem = desk_token_problem(channel, request, "agent replies")
    if problem is not None:
        return _refusal(platform, *problem)
    try:
        reply = parse_agent_reply(request.body or b"")
    except BadAgentReply as err:
        return _refusal(platform, 400, "bad_request", str(err))
    agent = getattr(request.app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        return _refusal(platform, 503, "unavailable", "no Rasa agent (conversation store) loaded", reply)
    tracker = await agent.tracker_store.retrieve(reply.conversation_id)
    came_from = tracker.get_latest_input_channel() if tracker is not None else None
    if came_from != platform:
        # Never send to an id we have not heard from on this channel: not a mistyped id, nor another
        # platform's customer (ids could collide), nor an arbitrary account.
        where = f"its messages came from {came_from}" if came_from else "no customer message in it"
        detail = f"no {platform} conversation {reply.conversation_id!r} ({where})"
        return _refusal(platform, 404, "unknown_conversation", detail, reply)
    # Sanic cancels a handler whose client hangs up; a send once started finishes (and is stored and
    # recorded), so the desk's retry gets its answer instead of a second copy.
    return await asyncio.shield(_send_once(channel, agent, reply))


async def _send_once(channel: WebhookChannel, agent: Any, reply: AgentReply) -> HTTPResponse:
    """Claim the client id, send, keep the answer; a failed or interrupted send frees the id again."""
    platform = channel.name()
    stored = await channel.state.claim_agent_reply(platform, reply.client_id, reply.fingerprint)
    if stored is not None:
        return _replay(platform, reply, stored)
    sent = False
    try:
        answer = await _send(channel, agent, reply)
        sent = answer.status == 200
        return answer
    finally:
        if not sent:
            await channel.state.release_agent_reply(platform, reply.client_id)


def _replay(platform: str, reply: AgentReply, stored: Mapping[str, Any]) -> HTTPResponse:
    """A request whose client id was seen before: the first answer, or why not."""
    problem = replay_problem(
        stored,
        reply.fingerprint,
        "this client_id was used for another text or conversation",
        "a request with this client_id is being sent; retry in a few seconds",
    )
    if problem is not None:
        return _refusal(platform, *problem, reply)
    count("agent_replies", platform, "replayed")
    logger.info("%s agent reply %s was sent before; answering as then", platform, reply.client_id)
    return response.json(stored["response"])


async def _send(channel: WebhookChannel, agent: Any, reply: AgentReply) -> HTTPResponse:
    """Send every piece, record what went out, and say how it went."""
    platform = channel.name()
    pieces = split_text(reply.text, channel.agent_text_limit)
    mids: list[str] = []
    try:
        for piece in pieces:
            mids.append(await channel.send_agent_piece(reply.conversation_id, piece))
    except (OutsideWindowError, AgentSendError) as err:
        if isinstance(err, OutsideWindowError) and not mids:
            return _refusal(platform, 409, "outside_window", str(err), reply)
        if mids:  # the customer saw the first pieces: the transcript must show them
            await _record(platform, agent, reply, "\n".join(pieces[: len(mids)]), mids, partial=True)
        detail = f"{err} ({len(mids)} of {len(pieces)} parts sent)" if mids else str(err)
        return _refusal(platform, 502, "platform_error", detail, reply, message_ids=mids)
    body = {"status": "sent", "message_ids": mids}
    await channel.state.finish_agent_reply(platform, reply.client_id, reply.fingerprint, body)
    await _record(platform, agent, reply, reply.text.strip(), mids, partial=False)
    count("agent_replies", platform, "sent")
    logger.info(
        "%s agent reply %s by agent %s sent to %s (%d message(s))",
        platform,
        reply.client_id,
        reply.agent_id,
        reply.conversation_id,
        len(mids),
    )
    return response.json(body)


async def _record(
    platform: str, agent: Any, reply: AgentReply, text: str, mids: list[str], partial: bool
) -> None:
    """The agent's turn in the conversation's tracker, under its lock (`turns.append_once`).

    Through the tracker store, as Rasa's own add-events API saves: it works with or without a loaded
    model, and the tracker exists (checked before sending), so no session needs starting. Saving also
    streams the event to the event broker.
    """
    metadata = UtteranceMetadata(
        author=AGENT,
        agent_id=reply.agent_id,
        agent_name=reply.agent_name,
        client_id=reply.client_id,
        mids=mids,
    )
    if partial:
        metadata["partial"] = True
    try:
        await append_once(
            agent, reply.conversation_id, None, [BotUttered(text, metadata=metadata)], platform, existing=True
        )
    except Exception:  # the message is out: a failed record must not make the desk send it again
        count("agent_replies_unrecorded", platform)
        logger.exception(
            "%s agent reply %s was sent to %s but not recorded in its tracker",
            platform,
            reply.client_id,
            reply.conversation_id,
        )
