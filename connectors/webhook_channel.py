"""What every platform channel shares.

A lazy HTTP session, per-conversation processing, and the routes' scaffolding (health, clean shutdown,
the desk's agent replies: `POST /webhooks/<channel>/agent_reply`, see `connectors.agent_reply`, and the
server's `GET /metrics`, see `connectors.metrics`).
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.agent_reply import handle_agent_reply
from connectors.conversation_queue import ConversationQueue
from connectors.limits import WebhookLimits
from connectors.metrics import CHALLENGE, count, exposition, metrics_token_from_env, refusal
from connectors.state import ConnectorState

logger = logging.getLogger(__name__)


class ChannelBlueprint(Blueprint):
    """A channel's routes, which Rasa registers under /webhooks/<name>/, plus the server's /metrics.

    Sanic puts every route of a blueprint under the prefix it is registered with, and Rasa 3.6 has no
    other hook into its app; the metrics belong to the server rather than to one channel, so registering
    a channel's blueprint also adds `GET /metrics` to the app itself, once.
    """

    def register(self, app: Sanic, options: dict[str, Any]) -> None:
        """Register the channel's routes, the app-level metrics route, and the server's body size limit."""
        super().register(app, options)
        add_metrics_route(app)
        limit_request_size(app, WebhookLimits.from_env().max_bytes)


def limit_request_size(app: Sanic, max_bytes: int) -> None:
    """Lower Sanic's `REQUEST_MAX_SIZE` (100 MB by default) to `max_bytes` for the whole server.

    Sanic reads it for each new connection and answers 413 as soon as a `Content-Length` above it
    arrives, or as soon as a chunked body grows past it, so no bigger body is ever buffered. It is one
    setting per server: Rasa's own HTTP API gets the same bound (its requests are small JSON), and it is
    only ever lowered here, never raised.
    """
    app.config.REQUEST_MAX_SIZE = min(app.config.REQUEST_MAX_SIZE, max_bytes)


def add_metrics_route(app: Sanic) -> None:
    """`GET /metrics` in Prometheus' text format, only for `METRICS_TOKEN`'s bearer (403 when unset)."""
    if getattr(app.ctx, "loom_metrics_route", False):
        return
    app.ctx.loom_metrics_route = True
    token = metrics_token_from_env()

    async def metrics(request: Request) -> HTTPResponse:
        if refused := refusal(request.headers.get("Authorization"), token):  # 403 without METRICS_TOKEN
            return response.text(refused[1], status=refused[0], headers=CHALLENGE)
        body, content_type = exposition(request.headers.get("Accept"))
        return HTTPResponse(body, content_type=content_type)

    app.add_route(metrics, "/metrics", methods=["GET"], name="loom_metrics")


class WebhookChannel(InputChannel):
    """Base of the Meta and X channels."""

    state: ConnectorState  # set by each channel

    def __init__(self, desk_token: str | None = None) -> None:
        self.queue = ConversationQueue(self.name())
        self._http: aiohttp.ClientSession | None = None
        self.desk_token = desk_token or None  # None: the agent reply route answers 503
        self.limits = WebhookLimits.from_env()

    def fresh_enough(self, timestamp_ms: int, event_id: str) -> bool:
        """Whether an event is within the age limit and not far in the future; logged and counted if not.

        The age limit is shorter than the time seen ids are kept, so a replayed signed body is either a
        known duplicate or too old.
        """
        problem = self.limits.age_problem(timestamp_ms)
        if problem is None:
            return True
        count("webhook_rejected", self.name(), problem)
        logger.warning(
            "%s event %s refused: %s (timestamp %d ms)", self.name(), event_id, problem, timestamp_ms
        )
        return False

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
        hook = ChannelBlueprint(f"{self.name()}_webhook", __name__)

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
