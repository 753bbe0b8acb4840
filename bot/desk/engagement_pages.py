"""The desk's Engagement page: public comments and mentions that call for an answer, and what was done.

Agents and supervisors answer items (the suggested reply, edited) in public or in private; supervisors
also hide and show items on the platform. The filing, the suggestions and the bot's own answers are the
engagement worker's (bot/monitoring/engagement/worker.py, in the monitoring service); every action
here goes through bot/monitoring/engagement/actions.py, which sends through the connector that
received the item, once. The list is read from the database every POLL_SECONDS; a change nudges this
replica's open pages (as alerts do).
Photos reach the browser only through `/engagement/media/...`, the desk's bounded proxy.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot.catalog.fetch import ImageFetchError
from bot.conversations.rasa_api import DeliveryError
from bot.desk.live import Poller
from bot.desk.monitoring_pages import supervisors
from bot.desk.web import AGENT, DESK, MEDIA, X_SIGNER, redirect, render
from bot.live_bus import Bus
from bot.monitoring.engagement.actions import PRIVATE, PUBLIC, EngagementActions, EngagementError
from bot.monitoring.engagement.queue import TO_ANSWER, VIEWS, EngagementQueue

logger = logging.getLogger(__name__)
POLL_SECONDS = 2.0
MAX_REPLY = 8_000

QUEUE_KEY = web.AppKey("engagement_queue", EngagementQueue)
ACTIONS_KEY = web.AppKey("engagement_actions", EngagementActions)


class QueueChanges(Poller):
    """Nudges this replica's pages when the engagement queue changed (the worker runs in another process)."""

    def __init__(self, queue: EngagementQueue, bus: Bus, every: float = POLL_SECONDS) -> None:
        super().__init__(every, "the engagement queue")
        self._queue = queue
        self._bus = bus
        self._seen: tuple[int, int, str] | None = None

    async def poll(self) -> None:
        """One read; a change nudges the pages."""
        state = await self._queue.state()
        if self._seen is not None and state != self._seen:
            self._bus.local({"kind": "queue"})
        self._seen = state


def _view(request: web.Request) -> str:
    view = request.query.get("show", TO_ANSWER)
    return view if view in VIEWS else TO_ANSWER


def _item_id(request: web.Request) -> int:
    return int(request.match_info["item_id"])


async def _context(request: web.Request) -> dict[str, object]:
    queue = request.app[QUEUE_KEY]
    view = _view(request)
    return {"rows": await queue.rows(view), "counts": await queue.counts(), "shown": view, "views": VIEWS}


async def page(request: web.Request) -> web.Response:
    """The queue, most urgent first."""
    return render(request, "engagement.html", **await _context(request))


async def fragment(request: web.Request) -> web.Response:
    """The list alone, for live refresh."""
    return render(request, "_engagement.html", **await _context(request))


def _back(view: str) -> str:
    return f"/engagement?show={view}" if view in VIEWS else "/engagement"


async def reply(request: web.Request) -> web.StreamResponse:
    """Send the (edited) suggestion in public, or privately."""
    item_id = _item_id(request)
    form = await request.post()
    back = _back(str(form.get("show", "")))
    text = str(form.get("text", "")).strip()
    kind = PRIVATE if form.get("kind") == PRIVATE else PUBLIC
    if len(text) > MAX_REPLY:
        raise redirect(request, back, f"A reply holds at most {MAX_REPLY} characters.")
    try:
        await request.app[ACTIONS_KEY].reply(item_id, request[AGENT], text, kind)
    except (EngagementError, DeliveryError) as err:
        raise redirect(request, back, f"Item #{item_id} not answered: {err}") from None
    raise redirect(
        request, back, f"Item #{item_id}: {'private' if kind == PRIVATE else 'public'} reply sent."
    )


@supervisors
async def hide(request: web.Request) -> web.StreamResponse:
    """Hide the item on the platform (or show it again): supervisors only."""
    item_id = _item_id(request)
    hidden = request.match_info["verb"] == "hide"
    form = await request.post()
    back = _back(str(form.get("show", "")))
    try:
        await request.app[ACTIONS_KEY].set_hidden(item_id, request[AGENT], hidden)
    except (EngagementError, DeliveryError) as err:
        raise redirect(request, back, f"Item #{item_id} not changed: {err}") from None
    raise redirect(request, back, f"Item #{item_id} {'hidden' if hidden else 'shown again'}.")


async def dismiss(request: web.Request) -> web.StreamResponse:
    """Take an item out of the queue without answering, or put it back."""
    item_id = _item_id(request)
    reopen = request.match_info["verb"] == "reopen"
    form = await request.post()
    back = _back(str(form.get("show", "")))
    try:
        await request.app[ACTIONS_KEY].dismiss(item_id, request[AGENT], reopen)
    except EngagementError as err:
        raise redirect(request, back, str(err)) from None
    raise redirect(request, back, f"Item #{item_id} {'back in the queue' if reopen else 'dismissed'}.")


async def media(request: web.Request) -> web.Response:
    """The n-th photo of an item, fetched (X's signed with our account) and re-encoded by the desk."""
    row = await request.app[QUEUE_KEY].row(_item_id(request))
    n = int(request.match_info["n"])
    if row is None or n >= len(row.photos):
        raise web.HTTPNotFound(text="no such photo")
    sign = request.app[X_SIGNER] if row.mention.channel == "twitter" else None
    try:
        body = await request.app[MEDIA].get(row.photos[n], sign)
    except ImageFetchError as err:
        logger.info("engagement photo %s/%s not shown: %s", row.item.id, n, err)
        raise web.HTTPNotFound(text="this photo cannot be shown") from None
    return web.Response(
        body=body,
        content_type="image/jpeg",
        headers={"Cache-Control": "private, no-store", "Content-Disposition": "inline"},
    )


def register(app: web.Application) -> None:
    """Add the Engagement page, and watch the queue while the app runs."""
    desk = app[DESK]
    queue = EngagementQueue(desk.db)
    app[QUEUE_KEY] = queue
    app[ACTIONS_KEY] = EngagementActions(desk.db, desk.rasa)
    changes = QueueChanges(queue, desk.bus)

    async def watching(_: web.Application) -> AsyncIterator[None]:
        await changes.start()
        yield
        await changes.stop()

    app.cleanup_ctx.append(watching)
    app.router.add_get("/engagement", page)
    app.router.add_get("/fragments/engagement", fragment)
    app.router.add_get(r"/engagement/media/{item_id:\d+}/{n:\d{1,2}}", media)
    app.router.add_post(r"/engagement/{item_id:\d+}/reply", reply)
    app.router.add_post(r"/engagement/{item_id:\d+}/{verb:hide|unhide}", hide)
    app.router.add_post(r"/engagement/{item_id:\d+}/{verb:dismiss|reopen}", dismiss)
