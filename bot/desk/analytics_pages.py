"""The analytics pages of the desk (supervisors only): a page of charts, each chart as SVG and as CSV.

`GET /analytics?from=YYYY-MM-DD&to=YYYY-MM-DD` (UTC days, default the last 7), the charts as
`/analytics/chart/<name>.svg` and their data as `/analytics/export/<name>.csv` with the same range.

The brand-tracking charts read monitoring.yml's `brand:` as it is now (re-read when editors change it)
and share one keyword scan of the range (bot/monitoring/analytics/brand.py): a page's charts and CSVs
asked for within SCAN_SECONDS reuse it, and charts asked for at once wait for the same scan.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.config_files import WatchedFile
from bot.desk import brand_charts, charts
from bot.desk.ownership import SUPERVISOR
from bot.desk.web import AGENT, DESK, render
from bot.monitoring import analytics
from bot.monitoring.analytics import BrandScan, DateRange, RangeError
from bot.monitoring.config import BrandSettings, MonitoringConfig
from bot.storage.db import Database
from bot.storage.models import utcnow

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

# An SVG chart is a document of its own: no scripts, its own inline styles (matplotlib writes them).
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
# A cell a spreadsheet would read as a formula (OWASP "CSV injection"); such text gets a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SCAN_SECONDS = 60.0  # as long as a browser keeps a chart (Cache-Control: max-age=60)
SCANS_KEPT = 8


@dataclass(frozen=True)
class Chart:
    """One chart: what it shows, how its data is fetched (or taken from the keyword scan), how it is drawn."""

    title: str
    about: str
    fetch: Callable[[Database, DateRange], Awaitable[Any]] | None
    draw: Callable[[Any], Figure]
    from_scan: Callable[[BrandScan], Any] | None = None


class BrandScans:
    """Recent keyword scans by range and keyword list, so a page's brand charts cost one scan."""

    def __init__(self, keep_seconds: float = SCAN_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.keep_seconds = keep_seconds
        self._clock = clock
        self._scans: dict[tuple[str, DateRange, BrandSettings], tuple[float, asyncio.Future[BrandScan]]] = {}
        self.made = 0

    async def get(self, db: Database, period: DateRange, brand: BrandSettings) -> BrandScan:
        """The range's scan: a recent one, the one under way, or a new one."""
        key, now = (db.url, period, brand), self._clock()
        known = self._scans.get(key)
        failed = known is not None and known[1].done() and (known[1].cancelled() or known[1].exception())
        if known is None or failed or now - known[0] > self.keep_seconds:
            scan = asyncio.ensure_future(analytics.scan(db, period, brand))
            self._scans[key] = known = (now, scan)
            self.made += 1
            for stale in sorted(self._scans, key=lambda k: self._scans[k][0])[:-SCANS_KEPT]:
                del self._scans[stale]
        # Shielded: a browser that goes away cancels its own wait, not the scan other charts wait for.
        return await asyncio.shield(known[1])


CHARTS: dict[str, Chart] = {
    "volume": Chart(
        "Messages by channel",
        "Customer messages per channel (public mentions dashed).",
        analytics.volume,
        charts.volume_chart,
    ),
    "sentiment": Chart(
        "Sentiment over time",
        "Share of negative, neutral and positive messages; the line is the mean score.",
        analytics.sentiment,
        charts.sentiment_chart,
    ),
    "intents": Chart(
        "Top intents",
        "What customers asked about most.",
        analytics.top_intents,
        charts.ranking_chart,
    ),
    "languages": Chart(
        "Messages by language",
        "Customer messages per detected language; short or unsure ones count as the trained language.",
        analytics.languages,
        charts.ranking_chart,
    ),
    "containment": Chart(
        "Containment",
        "Conversations with customer messages in the range that no person had to take over.",
        analytics.containment,
        charts.containment_chart,
    ),
    "verified_containment": Chart(
        "Verified containment",
        "Bot sessions started in the range that the bot closed alone and that held: not rated 1–2, and "
        "no return about the same topic (or handoff) within 48 hours.",
        analytics.verified_containment,
        charts.verified_chart,
    ),
    "handoffs": Chart(
        "Handoff rate by reason",
        "Tickets opened in the range, as a share of its conversations.",
        analytics.handoffs,
        charts.handoff_chart,
    ),
    "first_response": Chart(
        "First response time",
        "From handoff to the first reply a person sent, per person who sent it.",
        analytics.first_response,
        charts.timing_chart,
    ),
    "resolution": Chart(
        "Resolution time",
        "From handoff to resolve, per person who resolved.",
        analytics.resolution,
        charts.timing_chart,
    ),
    "csat": Chart(
        "Customer satisfaction",
        "Mean 1–5 rating by the person who resolved, and the assistant's own after conversations it "
        "handled alone.",
        analytics.csat,
        charts.csat_chart,
    ),
    "photos": Chart(
        "Photo lookups",
        "Customer photos by outcome: one product, a short list, nothing close, or an unusable photo.",
        analytics.photo_hits,
        charts.photo_chart,
    ),
    "logos": Chart(
        "Photos showing a logo",
        "Customer photos in which a logo from photos.yml was seen, by the mood of the message with them.",
        analytics.logo_photos,
        charts.logo_chart,
    ),
    "brand": Chart(
        "Brand mentions",
        "Public posts naming each keyword of monitoring.yml's brand: list, per group; a post naming "
        "two products counts for both, and once in its group's total.",
        None,
        brand_charts.mentions_chart,
        from_scan=lambda scan: scan.mentions,
    ),
    "brand_sentiment": Chart(
        "Sentiment per keyword",
        "How the posts naming each keyword felt: shares of negative, neutral and positive, their number "
        "and mean score.",
        None,
        brand_charts.mood_chart,
        from_scan=lambda scan: scan.sentiment,
    ),
    "activity": Chart(
        "When the audience is active",
        "Public mentions and comments per weekday and hour of the day (UTC), the count in each cell.",
        analytics.active_hours,
        brand_charts.activity_chart,
    ),
}
MONITORING_FILE = web.AppKey("monitoring_file", WatchedFile)
BRAND_SCANS = web.AppKey("brand_scans", BrandScans)


def _supervisor(request: web.Request) -> None:
    if request[AGENT].role != SUPERVISOR:
        raise web.HTTPForbidden(text="analytics are for supervisors")


def _period(request: web.Request) -> DateRange:
    """The requested range; a bad one is the client's mistake (400)."""
    try:
        return DateRange.parse(request.query.get("from"), request.query.get("to"), utcnow().date())
    except RangeError as err:
        raise web.HTTPBadRequest(text=f"bad date range: {err}") from None


def _chart(request: web.Request) -> tuple[str, Chart]:
    name = request.match_info["name"]
    if name not in CHARTS:
        raise web.HTTPNotFound(text=f"no chart named {name!r}")
    return name, CHARTS[name]


def _database(request: web.Request) -> Database:
    return request.app[DESK].db


async def _data(request: web.Request, chart: Chart, period: DateRange) -> Any:
    """What a chart draws: its query's answer, or its part of the range's keyword scan."""
    if chart.from_scan is not None:
        brand = request.app[MONITORING_FILE].value.brand  # monitoring.yml as editors left it
        return chart.from_scan(await request.app[BRAND_SCANS].get(_database(request), period, brand))
    assert chart.fetch is not None
    return await chart.fetch(_database(request), period)


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: None is blank, text a spreadsheet would run as a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    """The rows as CSV (numbers stay numbers; only text is guarded)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in header])
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return buffer.getvalue()


async def analytics_page(request: web.Request) -> web.Response:
    """The dashboard: headline numbers and every chart for the range."""
    _supervisor(request)
    today = utcnow().date()
    try:
        period = DateRange.parse(request.query.get("from"), request.query.get("to"), today)
    except RangeError as err:
        return render(
            request,
            "analytics.html",
            status=400,
            error=str(err),
            period=None,
            entered=(request.query.get("from", "")[:40], request.query.get("to", "")[:40]),
            presets=_presets(today),
            charts=CHARTS,
            summary=None,
        )
    db = _database(request)
    volume, contained, verified, handoffs, photos, ratings, logos = await asyncio.gather(
        analytics.volume(db, period),
        analytics.containment(db, period),
        analytics.verified_containment(db, period),
        analytics.handoffs(db, period),
        analytics.photo_hits(db, period),
        analytics.csat(db, period),
        analytics.logo_photos(db, period),
    )
    summary = {
        "messages": volume.total,
        "conversations": contained.conversations,
        "containment": contained.rate,
        "verified_containment": verified.rate,
        "bot_sessions": verified.all.sessions,
        "handoffs": sum(count for _, count in handoffs.reasons),
        "photos": photos.total,
        "photo_hit_rate": photos.rate,
        "csat": ratings.human,
        "bot_csat": ratings.bot,
        "our_logo_photos": logos.ours(),
    }
    return render(
        request,
        "analytics.html",
        error=None,
        period=period,
        entered=(period.first.isoformat(), period.last.isoformat()),
        presets=_presets(today),
        charts=CHARTS,
        summary=summary,
    )


def _presets(today: dt.date) -> list[tuple[str, str]]:
    """Quick ranges ending today: (label, query)."""
    ranges = [("Today", 1), ("2 days", 2), ("7 days", 7), ("30 days", 30), ("90 days", 90)]
    return [(name, DateRange(today - dt.timedelta(days=days - 1), today).query()) for name, days in ranges]


async def chart_svg(request: web.Request) -> web.Response:
    """One chart as an SVG document (for `<img>`)."""
    _supervisor(request)
    period = _period(request)
    _, chart = _chart(request)
    data = await _data(request, chart, period)
    svg = await asyncio.to_thread(charts.render, lambda: chart.draw(data))
    return web.Response(
        text=svg,
        content_type="image/svg+xml",
        headers={"Content-Security-Policy": SVG_CSP, "Cache-Control": "private, max-age=60"},
    )


async def export_csv(request: web.Request) -> web.Response:
    """One chart's data as a CSV download."""
    _supervisor(request)
    period = _period(request)
    name, chart = _chart(request)
    data = await _data(request, chart, period)
    filename = f"loom-{name}-{period.first.isoformat()}-to-{period.last.isoformat()}.csv"
    return web.Response(
        text=csv_text(*data.table()),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def register(app: web.Application, monitoring_file: WatchedFile[MonitoringConfig] | None = None) -> None:
    """Add the analytics routes to the desk (brand tracking reads monitoring.yml, or MONITORING_CONFIG's)."""
    app[MONITORING_FILE] = monitoring_file or MonitoringConfig.watch()
    app[BRAND_SCANS] = BrandScans()
    app.router.add_get("/analytics", analytics_page)
    app.router.add_get(r"/analytics/chart/{name:[a-z_]+}.svg", chart_svg)
    app.router.add_get(r"/analytics/export/{name:[a-z_]+}.csv", export_csv)
