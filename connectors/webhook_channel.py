"""What every platform channel shares.

A lazy HTTP session, per-conversation processing, and the routes' scaffolding (health, clean shutdown,
and the desk's agent replies: `POST /webhooks/<channel>/agent_reply`, see `connectors.agent_reply`).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.agent_reply import handle_agent_reply
from connectors.conversation_queue import ConversationQueue
from connectors.state import ConnectorState


class WebhookChannel(InputChannel):
    """Base of the Meta and X channels."""

    state: ConnectorState  # set by each channel

    def __init__(self, desk_token: str | None = None) -> None:
        self.queue = ConversationQueue()
        self._http: aiohttp.ClientSession | None = None
        self.desk_token = desk_token or None  # None: the agent reply route answers 503

    @property
    def agent_text_limit(self) -> int:
        """The longest text `send_agent_piece` takes; longer agent replies are split."""
        raise NotImplementedError

    async def send_agent_piece(self, recipient_id: str, text: str) -> str:
        """Send one piece of a human agent's reply; its message id.

        Raises `AgentSendError` when the platform refuses (after retries), `OutsideWindowError` when
        the platform's rules forbid the message.
        """
        raise NotImplementedError

    async def _session(self) -> aiohttp.ClientSession:
        """One HTTP session per server process, opened on first use (inside the server's loop)."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def close(self) -> None:
        """Finish queued work and release connections (server shutdown)."""
        await self.queue.drain()
        if self._http is not None:
            await self._http.close()

    def routes(self) -> Blueprint:
        """Health and agent reply routes and the shutdown hook; each channel adds its webhook."""
        hook = Blueprint(f"{self.name()}_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/agent_reply", methods=["POST"])
        async def agent_reply(request: Request) -> HTTPResponse:
            return await handle_agent_reply(self, request)

        @hook.listener("after_server_stop")
        async def close(*_: Any) -> None:
            await self.close()

        return hook
