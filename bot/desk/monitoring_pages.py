"""The desk's monitoring pages (supervisors only): spike alerts, and moderation of flagged messages.

The desk only shows and reviews: recording messages, screening them and looking for spikes is the
monitoring service's work (`python -m bot.monitoring`, bot/monitoring/service.py). Everything here is
read from the database, and reviews, acknowledgements and mutes are the same domain operations the
service uses (bot/monitoring/alerts.py, moderation.py). The header's count of open alerts is read
every ALERT_POLL_SECONDS; when it or the newest alert changes, this replica's pages are nudged, so the
alerts page refreshes even without Redis (with Redis the service's own nudges arrive sooner).

Pages follow the rest of the desk: server-rendered with autoescaping, CSRF-checked POSTs (the desk's
middleware), post/redirect/get with a one-time message.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from bot.desk.live import Poller
from bot.desk.ownership import SUPERVISOR
from bot.desk.web import AGENT, CONFIG, DESK, TEMPLATES, redirect, render
from bot.live_bus import Bus
from bot.monitoring.alerts import AlertError, Alerts
from bot.monitoring.config import MonitoringConfig, SpikeSettings
from bot.monitoring.const import CONFIRMED, DISMISSED, OPEN, REVIEW_STATES
from bot.monitoring.moderation import Moderation, ModerationError

logger = logging.getLogger(__name__)
ALERT_POLL_SECONDS = 2.0  # one small query per desk replica; also how late a page learns of a new alert


class OpenAlerts(Poller):
    """How many alerts are open, read from the database now and then; a change nudges this replica's pages."""

    def __init__(self, alerts: Alerts, bus: Bus, every: float = ALERT_POLL_SECONDS) -> None:
        super().__init__(every, "the open alerts")
        self._alerts = alerts
        self._bus = bus
        self.count = 0
        self._seen: tuple[int, int] | None = None

    async def refresh(self) -> int:
        """Read the count again (and nudge the pages if alerts changed since the last read)."""
        try:
            state = await self._alerts.summary()
        except Exception as err:  # the header keeps its last number; the next read tries again
            logger.warning("desk could not count open alerts: %s", err)
            return self.count
        if self._seen is not None and state != self._seen:
            self._bus.local({"kind": "alert"})
            self._bus.local({"kind": "queue"})  # what the alerts page listens for
        self._seen, self.count = state, state[0]
        return self.count

    async def prime(self) -> None:
        """The count for the first pages, before the first poll."""
        await self.refresh()

    async def poll(self) -> int:
        """One read of the count."""
        return await self.refresh()


ALERTS = web.AppKey("alerts", Alerts)
MODERATION = web.AppKey("moderation", Moderation)
OPEN_ALERTS = web.AppKey("open_alerts", OpenAlerts)
SPIKES = web.AppKey("spikes", SpikeSettings)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REVIEWS = {"confirm": CONFIRMED, "dismiss": DISMISSED, "reopen": OPEN}
FILTERS = (*REVIEW_STATES, "all")


def supervisors(handler: Handler) -> Handler:
    """Agents get 403: monitoring and moderation are for supervisors."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        if request[AGENT].role != SUPERVISOR:
            raise web.HTTPForbidden(text="monitoring is for supervisors")
        return await handler(request)

    return guarded


def _id(request: web.Request, name: str) -> int:
    return int(request.match_info[name])


async def _alerts_context(request: web.Request) -> dict[str, object]:
    open_alerts, recent = await request.app[ALERTS].recent()
    request.app[OPEN_ALERTS].count = len(open_alerts)  # the header of this very page agrees with it
    return {"open_alerts_list": open_alerts, "recent": recent, "settings": request.app[SPIKES]}


@supervisors
async def alerts_page(request: web.Request) -> web.Response:
    """Open and recent spike alerts, each with its messages."""
    return render(request, "monitoring_alerts.html", **await _alerts_context(request))


@supervisors
async def alerts_fragment(request: web.Request) -> web.Response:
    """The alert lists alone, for live refresh."""
    return render(request, "monitoring_alerts_list.html", **await _alerts_context(request))


@supervisors
async def acknowledge(request: web.Request) -> web.StreamResponse:
    """Mark an alert as seen."""
    alert_id = _id(request, "alert_id")
    try:
        await request.app[ALERTS].acknowledge(request[AGENT], alert_id)
    except AlertError as err:
        raise redirect(request, "/monitoring/alerts", str(err)) from None
    await request.app[OPEN_ALERTS].refresh()
    raise redirect(request, "/monitoring/alerts", f"Alert #{alert_id} acknowledged.")


def _status_filter(request: web.Request) -> str:
    status = request.query.get("status", OPEN)
    return status if status in FILTERS else OPEN


@supervisors
async def moderation_page(request: web.Request) -> web.Response:
    """Flags to review, and the authors muted now."""
    moderation = request.app[MODERATION]
    status = _status_filter(request)
    flags = await moderation.flags(None if status == "all" else status)
    # Names the desk already knows (never fetched here: a page of 200 flags would ask 200 times).
    known = await request.app[DESK].profiles.cached((r.flag.channel, r.flag.conversation_id) for r in flags)
    names = {
        r.flag.id: profile.name
        for r in flags
        if (profile := known.get((r.flag.channel, r.flag.conversation_id))) is not None and profile.name
    }
    return render(
        request,
        "monitoring_moderation.html",
        flags=flags,
        names=names,
        muted=await moderation.muted(),
        shown=status,  # (`status` is render()'s HTTP status)
        filters=FILTERS,
    )


def _back(form: Mapping[str, Any]) -> str:
    """Back to the moderation page with its filter (never anywhere else)."""
    status = str(form.get("status", ""))
    return f"/monitoring/moderation?status={status}" if status in FILTERS else "/monitoring/moderation"


@supervisors
async def review(request: web.Request) -> web.StreamResponse:
    """Confirm, dismiss or reopen a flag."""
    flag_id, verb = _id(request, "flag_id"), request.match_info["verb"]
    form = await request.post()
    try:
        await request.app[MODERATION].review(request[AGENT], flag_id, REVIEWS[verb])
    except ModerationError as err:
        raise redirect(request, _back(form), str(err)) from None
    done = {"confirm": "confirmed", "dismiss": "dismissed", "reopen": "reopened"}[verb]
    raise redirect(request, _back(form), f"Flag #{flag_id} {done}.")


@supervisors
async def mute(request: web.Request) -> web.StreamResponse:
    """Stop the bot answering an author."""
    form = await request.post()
    channel, author_id = str(form.get("channel", ""))[:20], str(form.get("author_id", ""))[:128]
    reason = str(form.get("reason", "")).strip()[:500] or "muted by a supervisor"
    try:
        await request.app[MODERATION].mute(request[AGENT], channel, author_id, reason)
    except ModerationError as err:
        raise redirect(request, _back(form), str(err)) from None
    raise redirect(request, _back(form), f"{author_id} on {channel} is muted: the assistant stops answering.")


@supervisors
async def unmute(request: web.Request) -> web.StreamResponse:
    """Answer an author again (unless a person has their conversation)."""
    form = await request.post()
    channel, author_id = str(form.get("channel", "")), str(form.get("author_id", ""))
    try:
        resumed = await request.app[MODERATION].unmute(request[AGENT], channel, author_id)
    except ModerationError as err:
        raise redirect(request, _back(form), str(err)) from None
    outcome = (
        "the assistant answers again."
        if resumed
        else "a person has the conversation, so the assistant stays paused until they resolve it."
    )
    raise redirect(request, _back(form), f"{author_id} on {channel} is unmuted: {outcome}")


async def index(_: web.Request) -> web.StreamResponse:
    """Alerts first."""
    raise web.HTTPSeeOther("/monitoring/alerts")


def register(app: web.Application, config: MonitoringConfig | None = None) -> None:
    """Add the monitoring pages, and keep the header's count of open alerts while the app runs."""
    desk = app[DESK]
    config = config or MonitoringConfig.from_env()
    alerts = Alerts(desk.db, config.spikes, desk.bus, desk_url=app[CONFIG].public_url)
    open_alerts = OpenAlerts(alerts, desk.bus, ALERT_POLL_SECONDS)
    app[ALERTS], app[OPEN_ALERTS], app[SPIKES] = alerts, open_alerts, config.spikes
    app[MODERATION] = Moderation(desk.db, config.moderation, desk.rasa)
    # base.html shows supervisors how many alerts are open.
    app[TEMPLATES].globals["open_alert_count"] = lambda: open_alerts.count

    async def counting(_: web.Application) -> AsyncIterator[None]:
        await open_alerts.start()
        yield
        await open_alerts.stop()

    # Appended after the desk's own lifecycle: starts once the bus runs, stops before databases close.
    app.cleanup_ctx.append(counting)
    app.router.add_get("/monitoring", supervisors(index))
    app.router.add_get("/monitoring/alerts", alerts_page)
    app.router.add_get("/monitoring/fragments/alerts", alerts_fragment)
    app.router.add_post(r"/monitoring/alerts/{alert_id:\d+}/acknowledge", acknowledge)
    app.router.add_get("/monitoring/moderation", moderation_page)
    app.router.add_post(r"/monitoring/flags/{flag_id:\d+}/{verb:confirm|dismiss|reopen}", review)
    app.router.add_post("/monitoring/mute", mute)
    app.router.add_post("/monitoring/unmute", unmute)
