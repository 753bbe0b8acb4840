"""The desk's monitoring pages (supervisors only): spike alerts, and moderation of flagged messages.

`register(app, trackers)` adds the routes and runs monitoring (bot/monitoring/monitor.py) in the
background while the desk runs. Pages follow the rest of the desk: server-rendered with autoescaping,
CSRF-checked POSTs (the desk's middleware), post/redirect/get with a one-time message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from bot.desk.app import AGENT, CONFIG, DESK, TEMPLATES, redirect, render
from bot.desk.ownership import SUPERVISOR
from bot.monitoring.alerts import AlertError
from bot.monitoring.config import MonitoringConfig
from bot.monitoring.const import CONFIRMED, DISMISSED, OPEN, REVIEW_STATES
from bot.monitoring.moderation import ModerationError
from bot.monitoring.monitor import Monitor
from bot.storage.db import Database

MONITOR = web.AppKey("monitor", Monitor)
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
    monitor = request.app[MONITOR]
    open_alerts, recent = await monitor.alerts.recent()
    monitor.open_alerts = len(open_alerts)
    return {"open_alerts_list": open_alerts, "recent": recent, "settings": monitor.config.spikes}


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
    monitor = request.app[MONITOR]
    try:
        await monitor.alerts.acknowledge(request[AGENT], alert_id)
    except AlertError as err:
        raise redirect(request, "/monitoring/alerts", str(err)) from None
    await monitor.refresh_count()
    raise redirect(request, "/monitoring/alerts", f"Alert #{alert_id} acknowledged.")


def _status_filter(request: web.Request) -> str:
    status = request.query.get("status", OPEN)
    return status if status in FILTERS else OPEN


@supervisors
async def moderation_page(request: web.Request) -> web.Response:
    """Flags to review, and the authors muted now."""
    moderation = request.app[MONITOR].moderation
    status = _status_filter(request)
    flags = await moderation.flags(None if status == "all" else status)
    return render(
        request,
        "monitoring_moderation.html",
        flags=flags,
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
        await request.app[MONITOR].moderation.review(request[AGENT], flag_id, REVIEWS[verb])
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
        await request.app[MONITOR].moderation.mute(request[AGENT], channel, author_id, reason)
    except ModerationError as err:
        raise redirect(request, _back(form), str(err)) from None
    raise redirect(request, _back(form), f"{author_id} on {channel} is muted: the assistant stops answering.")


@supervisors
async def unmute(request: web.Request) -> web.StreamResponse:
    """Answer an author again (unless a person has their conversation)."""
    form = await request.post()
    channel, author_id = str(form.get("channel", "")), str(form.get("author_id", ""))
    try:
        resumed = await request.app[MONITOR].moderation.unmute(request[AGENT], channel, author_id)
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


def register(app: web.Application, trackers: Database, config: MonitoringConfig | None = None) -> None:
    """Add the monitoring pages and run monitoring while the app runs (`trackers`: Rasa's tracker store)."""
    desk = app[DESK]
    monitor = Monitor(
        config or MonitoringConfig.from_env(),
        desk.db,
        trackers,
        desk.bus,
        desk.rasa,
        desk_url=app[CONFIG].public_url,
    )
    app[MONITOR] = monitor
    # base.html shows supervisors how many alerts are open (a number kept fresh by the monitor).
    app[TEMPLATES].globals["open_alert_count"] = lambda: monitor.open_alerts

    async def running(_: web.Application) -> AsyncIterator[None]:
        await monitor.refresh_count()
        await monitor.start()
        yield
        await monitor.stop()

    # Appended after the desk's own lifecycle: starts once the bus runs, stops before databases close.
    app.cleanup_ctx.append(running)
    app.router.add_get("/monitoring", supervisors(index))
    app.router.add_get("/monitoring/alerts", alerts_page)
    app.router.add_get("/monitoring/fragments/alerts", alerts_fragment)
    app.router.add_post(r"/monitoring/alerts/{alert_id:\d+}/acknowledge", acknowledge)
    app.router.add_get("/monitoring/moderation", moderation_page)
    app.router.add_post(r"/monitoring/flags/{flag_id:\d+}/{verb:confirm|dismiss|reopen}", review)
    app.router.add_post("/monitoring/mute", mute)
    app.router.add_post("/monitoring/unmute", unmute)
