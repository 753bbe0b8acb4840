"""What every platform channel shares.

A lazy HTTP session, the durable inbox and its worker (`connectors.inbox`, `connectors.inbox_worker`),
exactly-once turns (`connectors.turns`), and the routes' scaffolding (health, start and clean shutdown,
the desk's agent replies: `POST /webhooks/<channel>/agent_reply`, see `connectors.agent_reply`, the
server's `GET /metrics`, see `connectors.metrics`, and its `GET /readyz`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import timeline
from connectors.agent_reply import handle_agent_reply
from connectors.inbox import Entry, Inbox, InboxSettings, InboxUnavailable, NewEntry, inbox_from_env
from connectors.inbox_worker import InboxWorker
from connectors.limits import WebhookLimits
from connectors.mentions import MentionStore, PublicItem, StoredItem
from connectors.metrics import CHALLENGE, WEBHOOK_SECONDS, count, exposition, refusal
from connectors.outbox import turn
from connectors.public_actions import handle_public_action
from connectors.settings import ConnectorSettings
from connectors.state import ConnectorState
from connectors.turns import handle_once

logger = logging.getLogger(__name__)


class AckFirst:
    """While webhooks are being answered in this process, no new turn starts (for a while).

    Turns run mostly on the CPU, in the same event loop that answers webhooks. Left to themselves, a
    backlog of turns takes the loop's time and the acknowledgements wait behind them: seconds, at a
    burst of 200 webhooks a second. A platform waits only so long for the 200, and the inbox exists so
    that answering can lag behind acknowledging. So a turn starts only when no webhook is being
    answered, or after waiting `MAX_WAIT` (turns are never starved). It only softens a burst: a turn
    already running blocks the loop for tens of milliseconds at a time (NLU, policies), so a deployment
    that needs fast acks under any load puts `connectors.ingress` in front (bench/ack_latency.py).
    Loop-agnostic: counters and polling.
    """

    MAX_WAIT = 2.0
    POLL = 0.002

    def __init__(self) -> None:
        self.answering = 0

    @contextmanager
    def webhook(self, platform: str) -> Iterator[None]:
        """Around answering one webhook: counted here, timed in `loom_webhook_seconds`."""
        self.answering += 1
        try:
            with WEBHOOK_SECONDS.labels(platform).time():
                yield
        finally:
            self.answering -= 1

    async def quiet(self) -> None:
        """Before a turn: wait while webhooks are being answered (at most MAX_WAIT)."""
        deadline = time.monotonic() + self.MAX_WAIT
        while self.answering and time.monotonic() < deadline:
            await asyncio.sleep(self.POLL)


ACK_FIRST = AckFirst()


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
        add_readiness_route(app)
        channel = getattr(self.ctx, "channel", None)
        if channel is not None:
            app.ctx.loom_channels = [*getattr(app.ctx, "loom_channels", []), channel]
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
    token = ConnectorSettings.from_env().metrics_token

    async def metrics(request: Request) -> HTTPResponse:
        if refused := refusal(request.headers.get("Authorization"), token):  # 403 without METRICS_TOKEN
            return response.text(refused[1], status=refused[0], headers=CHALLENGE)
        body, content_type = exposition(request.headers.get("Accept"))
        return HTTPResponse(body, content_type=content_type)

    app.add_route(metrics, "/metrics", methods=["GET"], name="loom_metrics")


def add_readiness_route(app: Sanic) -> None:
    """`GET /readyz`: 200 when a model is loaded and every channel's inbox answers, else 503.

    A load balancer stops sending webhooks to a replica that is not ready; it also answers 503 while a
    replica drains after SIGTERM. The answer names the reason and never a secret (no auth: it says only
    ready or not). Liveness is Rasa's own `GET /`.
    """
    if getattr(app.ctx, "loom_readiness_route", False):
        return
    app.ctx.loom_readiness_route = True

    async def readyz(request: Request) -> HTTPResponse:
        problems: list[str] = []
        channels = getattr(request.app.ctx, "loom_channels", [])
        agent = getattr(request.app.ctx, "agent", None)
        if any(c.consume for c in channels) and (agent is None or not agent.is_ready()):
            problems.append("no model loaded")
        for channel in channels:
            problems += await channel.readiness_problems()
        if problems:
            return response.json({"status": "unavailable", "problems": problems}, status=503)
        return response.json({"status": "ready"})

    app.add_route(readyz, "/readyz", methods=["GET"], name="loom_readyz")


class WebhookChannel(InputChannel):
    """Base of the Meta and X channels: webhooks in through the inbox, one turn per message."""

    state: ConnectorState  # set by each channel
    public_channel: str = ""  # `mentions.channel` of the public items this channel receives
    # Route tests run a channel beside an Agent without a model and pass their own message handler.
    model_required: bool = True
    # False in a webhook ingress process (`connectors.ingress`): store and acknowledge, never answer.
    consume: bool = True

    def __init__(self, desk_token: str | None = None, inbox: Inbox | None = None) -> None:
        self._http: aiohttp.ClientSession | None = None
        self.desk_token = desk_token or None  # None: the agent reply route answers 503
        self.limits = WebhookLimits.from_env()
        settings = InboxSettings.from_env()
        self.inbox = inbox or inbox_from_env(settings=settings)
        self.worker = InboxWorker(
            self.inbox, self.name(), self._process_entry, settings, can_work=self.can_work
        )
        self._app: Sanic | None = None
        self._on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None
        self.mentions: MentionStore | None = None  # public items (comments, mentions); opened on first use

    def attach(self, app: Sanic, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Remember the server and Rasa's message handler, and start the inbox worker."""
        self._app = app
        self._on_new_message = on_new_message
        if self.consume:
            self.worker.start()

    @property
    def agent(self) -> Any:
        """Rasa's agent (None in route tests that run without Rasa)."""
        return getattr(self._app.ctx, "agent", None) if self._app is not None else None

    def can_work(self) -> bool:
        """Whether this process may take inbox work: it has a server, and a model unless none is needed.

        A replica without a model (still loading, or started without one) leaves its share to the others
        rather than handing messages to a Rasa that would ignore them.
        """
        if self._app is None:
            return False
        agent = self.agent
        return agent is None or not self.model_required or agent.is_ready()

    async def store(self, items: list[tuple[str, NewEntry]]) -> None:
        """Put events in the inbox (raises InboxUnavailable); redeliveries are dropped there, counted here.

        `items`: (event type for the metrics, entry).
        """
        stored = await self.inbox.append(self.name(), [entry for _, entry in items])
        for (kind, entry), new in zip(items, stored, strict=True):
            if new:
                count("webhook_events", self.name(), kind)
            else:
                count("webhook_duplicates", self.name())
                logger.info("%s redelivered event %s dropped", self.name(), entry.event_id)

    async def store_or_503(self, items: list[tuple[str, NewEntry]], ok: HTTPResponse) -> HTTPResponse:
        """Acknowledge with `ok` only once the events are stored; else 503, and the platform retries."""
        try:
            await self.store(items)
        except InboxUnavailable as err:
            count("webhook_rejected", self.name(), "inbox_unavailable")
            logger.error("%s webhook not acknowledged (503): %s", self.name(), err)
            return response.text("inbox unavailable, retry later", status=503)
        return ok

    async def _process_entry(self, entry: Entry) -> None:
        """One inbox entry, inside its outbox turn (replies already sent are not sent again)."""
        with turn(self.name(), entry.event_id):
            await self.process(entry)

    async def process(self, entry: Entry) -> None:
        """Do what one stored event asks for (each channel)."""
        raise NotImplementedError

    async def deliver(
        self, message: UserMessage, before: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """A customer's message to the assistant, once (see `connectors.turns`)."""
        agent = self.agent
        if agent is None or not self.model_required:  # route tests: their handler records the message
            if before is not None:
                await before()
            if self._on_new_message is not None:
                await self._on_new_message(message)
            return
        await ACK_FIRST.quiet()
        timeline.mark("quiet")
        await handle_once(agent, message, self.name(), before)

    async def readiness_problems(self) -> list[str]:
        """Why this channel cannot take webhooks now (empty: it can)."""
        if self.worker.draining:
            return [f"{self.name()}: shutting down"]
        try:
            await self.inbox.ping()
        except InboxUnavailable as err:
            return [f"{self.name()}: inbox unavailable ({err.__class__.__name__})"]
        return []

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

    async def public_action(self, action: str, item_id: str, item: StoredItem, text: str) -> str:
        """Do one public action (connectors/public_actions.py) on an item this channel received.

        Returns the platform's id of what was made (a reply), "" for hide/unhide. Raises
        `PublicActionRefused` when the platform's rules forbid it, `PlatformError` when it failed.
        """
        raise NotImplementedError

    async def store_public(self, item: PublicItem) -> None:
        """Keep a public item (a comment, a mention) for monitoring and the engagement queue, once."""
        if self.mentions is None:
            self.mentions = MentionStore()
        stored = await self.mentions.save(item)
        count("mentions_stored" if stored else "mentions_duplicate", item.channel)
        logger.info(
            "%s %s %s by %s %s",
            item.channel,
            item.kind,
            item.external_id,
            item.author_handle or item.author_name or item.author_id,
            "stored" if stored else "already stored",
        )

    async def close(self) -> None:
        """Finish or hand back in-flight work, then release connections (server shutdown)."""
        await self.worker.stop()
        await self.inbox.close()
        if self._http is not None:
            await self._http.close()
        if self.mentions is not None:
            self.mentions.close()

    def routes(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Health and agent reply routes, start and shutdown hooks; each channel adds its webhook."""
        hook = ChannelBlueprint(f"{self.name()}_webhook", __name__)
        hook.ctx.channel = self  # for /readyz (ChannelBlueprint.register)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/agent_reply", methods=["POST"])
        async def agent_reply(request: Request) -> HTTPResponse:
            return await handle_agent_reply(self, request)

        @hook.route("/public_action", methods=["POST"])
        async def public_action(request: Request) -> HTTPResponse:
            return await handle_public_action(self, request)

        @hook.listener("after_server_start")
        async def start(app: Sanic, *_: Any) -> None:
            # Entries stored before a restart are worked at once, without waiting for a new webhook.
            self.attach(app, on_new_message)
            timeline.start_probe()

        @hook.listener("before_server_stop")
        async def drain(*_: Any) -> None:
            await self.worker.stop()

        @hook.listener("after_server_stop")
        async def close(*_: Any) -> None:
            await self.close()

        return hook
