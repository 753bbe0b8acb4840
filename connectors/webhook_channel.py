"""What every platform channel shares.

A lazy HTTP session, per-conversation processing, and the routes' scaffolding (health, clean shutdown).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.conversation_queue import ConversationQueue


class WebhookChannel(InputChannel):
    """Base of the Meta and X channels."""

    def __init__(self) -> None:
        self.queue = ConversationQueue()
        self._http: aiohttp.ClientSession | None = None

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
        """A blueprint with the health route and the shutdown hook; channels add their webhook."""
        hook = Blueprint(f"{self.name()}_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.listener("after_server_stop")
        async def close(*_: Any) -> None:
            await self.close()

        return hook
