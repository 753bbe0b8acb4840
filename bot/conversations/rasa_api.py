"""The desk's calls into the Rasa server.

An agent's reply goes out through the conversation's own connector (its agent_reply route); handing
the conversation back to the bot is Rasa's HTTP API (resume, then the CSAT question), authenticated
with a short-lived JWT in the Authorization header (`bot.conversations.api_auth`), never a `?token=` query.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.conversations.api_auth import api_headers

logger = logging.getLogger(__name__)
TIMEOUT = aiohttp.ClientTimeout(total=30)
REPLY_TIMEOUT = aiohttp.ClientTimeout(total=150)  # the connector waits out the platform's 429s and retries
REPLY_CHANNELS = ("messenger", "instagram", "twitter")
# The route (connector) that received a public item of each `mentions.channel`.
PUBLIC_ROUTES = {"facebook": "messenger", "instagram": "instagram", "twitter": "twitter"}
PARSE_TIMEOUT = aiohttp.ClientTimeout(total=10)


class DeliveryError(Exception):
    """The reply did not reach the customer; the message says why (shown to the agent)."""


@dataclass(frozen=True)
class Delivered:
    """Platform message ids of a sent reply."""

    message_ids: list[str]


class RasaClient:
    """HTTP calls to the Rasa server (and the connectors' agent route on it)."""

    def __init__(self, base_url: str, rasa_jwt_secret: str, desk_api_token: str) -> None:
        self._base = base_url.rstrip("/")
        self._jwt_secret = rasa_jwt_secret
        self._desk_token = desk_api_token
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()

    async def send_reply(
        self, channel: str, conversation_id: str, text: str, client_id: str, agent: dict[str, Any]
    ) -> Delivered:
        """Send through the connector that received the conversation; raises DeliveryError."""
        if channel not in REPLY_CHANNELS:
            raise DeliveryError(f"replies cannot be sent on the {channel!r} channel from the desk")
        body = {"conversation_id": conversation_id, "text": text, "client_id": client_id, "agent": agent}
        status, answer = await self._to_connector(channel, "agent_reply", body)
        if status == 200:
            return Delivered(list(answer.get("message_ids") or []))
        error = answer.get("error") if isinstance(answer, dict) else None
        if error == "outside_window":
            raise DeliveryError(
                "Meta's 7-day window for human replies has closed; the customer must write first"
            )
        detail = answer.get("detail") if isinstance(answer, dict) else answer
        logger.warning("agent reply refused (%s): %s", status, answer)
        raise DeliveryError(f"not delivered ({status} {error or ''}): {detail or ''}".strip())

    async def public_action(
        self, channel: str, action: str, item_id: str, text: str, client_id: str, actor: str
    ) -> str:
        """Reply to, privately reply to, hide or show a public item, through the connector that received it.

        Returns the platform's id of what was made ("" for hide/unhide); raises DeliveryError saying why not.
        Idempotent on `client_id`: a retry after a lost answer gets the first result, nothing twice.
        """
        route = PUBLIC_ROUTES.get(channel)
        if route is None:
            raise DeliveryError(f"no public actions on the {channel!r} channel")
        body = {"action": action, "item_id": item_id, "text": text, "client_id": client_id, "actor": actor}
        status, answer = await self._to_connector(route, "public_action", body)
        if status == 200 and isinstance(answer, dict):
            return str(answer.get("id") or "")
        detail = answer.get("detail") if isinstance(answer, dict) else answer
        logger.warning("public %s on %s %s refused (%s): %s", action, channel, item_id, status, answer)
        raise DeliveryError(f"not done ({status}): {detail or ''}".strip())

    async def _to_connector(self, route: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """POST to a connector's desk route (bearer DESK_API_TOKEN): the status and the JSON answer."""
        url = f"{self._base}/webhooks/{route}/{path}"
        headers = {"Authorization": f"Bearer {self._desk_token}"}
        try:
            async with self._http().post(url, json=body, headers=headers, timeout=REPLY_TIMEOUT) as response:
                return response.status, await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise DeliveryError(f"the assistant's server did not answer ({err.__class__.__name__})") from err

    async def _api(self, path: str, body: Any) -> None:
        url = f"{self._base}{path}"
        params: dict[str, str] = {}
        if "?" in path:
            url, query = url.split("?", 1)
            params.update(dict(part.split("=", 1) for part in query.split("&")))
        headers = api_headers(self._jwt_secret)
        try:
            async with self._http().post(url, json=body, params=params, headers=headers) as response:
                if response.status >= 300:
                    text = await response.text()
                    raise DeliveryError(f"the assistant refused ({response.status}): {text[:200]}")
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DeliveryError(f"the assistant's server did not answer ({err.__class__.__name__})") from err

    async def resume(self, conversation_id: str) -> None:
        """Give the conversation back to the bot. What the customer told the person is not replayed."""
        # The action_listen closes whatever turn was open when the bot paused (a takeover from Meta's
        # inbox pauses mid-turn), so the next message is predicted as a fresh turn.
        events = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]
        await self._api(f"/conversations/{quote(conversation_id, safe='')}/tracker/events", events)

    async def pause(self, conversation_id: str) -> None:
        """Stop the bot answering (a muted author): Rasa keeps recording what the customer writes."""
        path = f"/conversations/{quote(conversation_id, safe='')}/tracker/events"
        await self._api(path, {"event": "pause"})

    async def parse(self, text: str) -> dict[str, Any]:
        """The NLU parse of a text (intent, entities, sentiment) without touching any conversation."""
        headers = api_headers(self._jwt_secret)
        try:
            async with self._http().post(
                f"{self._base}/model/parse", json={"text": text}, headers=headers, timeout=PARSE_TIMEOUT
            ) as response:
                if response.status != 200:
                    raise DeliveryError(f"the assistant refused to parse ({response.status})")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise DeliveryError(f"the assistant's server did not answer ({err.__class__.__name__})") from err
        return answer if isinstance(answer, dict) else {}

    async def ask_csat(self, conversation_id: str) -> None:
        """Have the bot ask for a 1-5 rating, through the conversation's own channel."""
        path = f"/conversations/{quote(conversation_id, safe='')}/trigger_intent?output_channel=latest"
        await self._api(path, {"name": "EXTERNAL_csat_request"})

    async def ask_bot_csat(self, conversation_id: str) -> None:
        """Have the bot ask for its own 1-5 rating (a conversation it handled alone ended)."""
        path = f"/conversations/{quote(conversation_id, safe='')}/trigger_intent?output_channel=latest"
        await self._api(path, {"name": "EXTERNAL_bot_csat_request"})
