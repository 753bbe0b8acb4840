"""The analytics charts: matplotlib figures rendered to SVG on the server (no pyplot, no browser script).

Text from data (intents, agents' names, reasons) is drawn as SVG `<text>`, which matplotlib escapes;
mathtext is off, so a `$` in a name is just a dollar sign. matplotlib's settings are process-wide, so
drawing happens under a lock (charts are drawn in worker threads, off the event loop). A TitledFigure
also gets SVG `<title>`s (escaped here): one for the document, one per element it names by gid, which
screen readers and hover tooltips show. The brand-tracking charts are in bot/desk/brand_charts.py.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import textwrap
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

import matplotlib

matplotlib.use("Agg")  # never a GUI backend on a server

from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bot.monitoring.analytics import (
    SENTIMENTS,
    Containment,
    Csat,
    Handoffs,
    LogoPhotos,
    PhotoHits,
    Ranking,
    Sentiment,
    Timings,
    VerifiedContainment,
    Volume,
)

STYLE = {
    "svg.fonttype": "none",  # real <text> elements: small files, escaped text
    "svg.hashsalt": "loom-analytics",  # stable element ids: the same data gives the same file
    "text.parse_math": False,
    "font.size": 9,
    "font.family": ["DejaVu Sans", "sans-serif"],
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#98a2b3",
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e4e7ec",
    "xtick.color": "#475467",
    "ytick.color": "#475467",
}
SIZE = (6.4, 3.0)
INK, MUTED, ACCENT = "#1d2430", "#667085", "#3056d3"
SENTIMENT_COLORS = {"negative": "#c0362c", "neutral": "#98a2b3", "positive": "#1f8a4c"}
CHANNEL_COLORS = {"messenger": "#1b4fd6", "instagram": "#b0246b", "twitter": "#0f6e99"}
OTHER_COLORS = ("#7a5af8", "#b7791f", "#0e9384", "#667085", "#e04f16", "#4e5ba6")
OUTCOME_COLORS = {"confident": "#1f8a4c", "several": "#6cbf84", "none": "#b7791f", "bad_image": "#c0362c"}
LABEL_WIDTH, LABEL_LINES = 22, 2
_drawing = threading.Lock()


class TitledFigure(Figure):
    """A figure whose SVG gets a `<title>` for the document and for each element named by its gid."""

    def __init__(self, title: str, titles: Mapping[str, str], **options: Any) -> None:
        super().__init__(**options)
        self.svg_title = title
        self.svg_titles = dict(titles)


def titled(svg: str, title: str, titles: Mapping[str, str]) -> str:
    """`svg` with an escaped `<title>` first in the document and in each group whose id is in `titles`."""
    opening = svg.index(">", svg.index("<svg ")) + 1
    svg = f"{svg[:opening]}\n <title>{escape(title)}</title>{svg[opening:]}"
    for gid, text in titles.items():
        group = f'<g id="{escape(gid)}">'
        svg = svg.replace(group, f"{group}<title>{escape(text)}</title>", 1)
    return svg


def render(draw: Callable[[], Figure]) -> str:
    """Draw a figure with the house style and return it as an SVG document."""
    with _drawing, matplotlib.rc_context(STYLE):
        figure = draw()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    if isinstance(figure, TitledFigure):
        return titled(buffer.getvalue(), figure.svg_title, figure.svg_titles)
    return buffer.getvalue()


def label(text: str) -> str:
    """A data label short enough for an axis: at most two short lines, words kept whole."""
    words, limit = " ".join(str(text).split()), LABEL_WIDTH * LABEL_LINES
    words = words if len(words) <= limit else words[: limit - 1] + "…"
    return textwrap.fill(
        words,
        LABEL_WIDTH,
        max_lines=LABEL_LINES,
        placeholder=" …",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _figure(height: float = SIZE[1]) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(SIZE[0], height))
    return figure, figure.add_subplot()


def empty(message: str) -> Figure:
    """A chart with nothing to plot says so."""
    figure, axes = _figure(1.4)
    axes.set_axis_off()
    axes.text(0.5, 0.5, message, ha="center", va="center", color=MUTED, fontsize=10, transform=axes.transAxes)
    return figure


def _time_axis(axes: Axes, bucket: str) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=dt.timezone.utc))
    axes.set_xlabel(f"per {bucket} (UTC)", color=MUTED)


def _bucket_width(bucket: str) -> float:
    return (1 / 24 if bucket == "hour" else 1.0) * 0.85  # in days, matplotlib's date unit


def _color(name: str, index: int) -> str:
    base = name.split()[0]
    return CHANNEL_COLORS.get(base, OTHER_COLORS[index % len(OTHER_COLORS)])


def volume_chart(data: Volume) -> Figure:
    """Messages per channel over time (mentions dashed)."""
    if not data.total:
        return empty("No customer messages in this range")
    figure, axes = _figure()
    few = len(data.buckets) <= 31
    for i, (series, counts) in enumerate(sorted(data.counts.items())):
        style = "--" if series.endswith("mentions") else "-"
        axes.plot(
            data.buckets,
            counts,
            style,
            color=_color(series, i),
            label=label(series),
            marker="o" if few else None,
            markersize=3,
            linewidth=1.6,
        )
    axes.set_ylabel("messages")
    axes.set_ylim(bottom=0)
    _time_axis(axes, data.bucket)
    axes.legend(frameon=False, loc="lower left", bbox_to_anchor=(0, 1), ncols=min(4, len(data.counts)))
    return figure


def sentiment_chart(data: Sentiment) -> Figure:
    """Share of negative, neutral and positive messages per bucket (bars), mean score (line)."""
    totals = [sum(data.counts[s][i] for s in SENTIMENTS) for i in range(len(data.buckets))]
    if not any(totals):
        return empty("No customer messages in this range")
    figure, axes = _figure()
    bottom = [0.0] * len(data.buckets)
    width = _bucket_width(data.bucket)
    for name in SENTIMENTS:
        shares = [100 * c / t if t else 0.0 for c, t in zip(data.counts[name], totals, strict=True)]
        axes.bar(
            data.buckets, shares, width, bottom=bottom, color=SENTIMENT_COLORS[name], label=name, align="edge"
        )
        bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
    axes.set_ylim(0, 100)
    axes.set_ylabel("% of messages")
    score = axes.twinx()
    centres = [moment + dt.timedelta(days=width / 2) for moment in data.buckets]
    means = [math.nan if m is None else m for m in data.mean]
    score.plot(centres, means, color=INK, marker="o", markersize=3, linewidth=1.4, label="mean score")
    score.set_ylim(-1, 1)
    score.set_ylabel("mean score (−1…1)")
    score.grid(False)
    score.spines["right"].set_visible(True)
    _time_axis(axes, data.bucket)
    handles = axes.get_legend_handles_labels()[0] + score.get_legend_handles_labels()[0]
    axes.legend(handles=handles, frameon=False, loc="upper left", bbox_to_anchor=(0, 1.16), ncols=4)
    return figure


def _bar_rows(labels: Sequence[str]) -> tuple[Figure, Axes, list[int]]:
    """A figure with one labelled row per label for horizontal bars, first on top, and the rows' positions."""
    figure, axes = _figure(max(1.6, 0.7 + 0.32 * len(labels)))
    positions = list(range(len(labels)))[::-1]
    axes.set_yticks(positions, [label(text) for text in labels])
    axes.grid(axis="y", visible=False)
    return figure, axes, positions


def _hbars(
    labels: Sequence[str],
    values: Sequence[float],
    notes: Sequence[str],
    colors: Sequence[str] | str = ACCENT,
    xlabel: str = "",
) -> tuple[Figure, Axes]:
    """Horizontal bars, first label on top, each bar annotated."""
    figure, axes, positions = _bar_rows(labels)
    axes.barh(positions, values, color=colors, height=0.62)
    top = max(values, default=0) or 1
    for y, value, note in zip(positions, values, notes, strict=True):
        axes.text(value + top * 0.01, y, note, va="center", color=INK, fontsize=8)
    axes.set_xlim(0, top * 1.22)
    axes.set_xlabel(xlabel, color=MUTED)
    return figure, axes


def ranking_chart(data: Ranking) -> Figure:
    """The top intents."""
    if not data.items:
        return empty("No intents in this range")
    names, counts = zip(*data.items, strict=True)
    return _hbars(names, counts, [str(c) for c in counts], xlabel="messages")[0]


def containment_chart(data: Containment) -> Figure:
    """Share of conversations the bot handled without a person, per channel and overall."""
    if not data.conversations:
        return empty("No conversations in this range")
    names, rates, notes = [], [], []
    for channel, (total, handed) in [*sorted(data.by_channel.items()), ("all channels", (0, 0))]:
        if channel == "all channels":
            total, handed = data.conversations, data.handed_over
        names.append(channel)
        rates.append(100 * (total - handed) / total)
        notes.append(f"{rates[-1]:.0f}%  ({total - handed} of {total})")
    colors = [_color(n, i) if n != "all channels" else INK for i, n in enumerate(names)]
    figure, axes = _hbars(names, rates, notes, colors, "% of conversations without a person")
    axes.set_xlim(0, 122)
    return figure


def verified_chart(data: VerifiedContainment) -> Figure:
    """Share of bot sessions contained for real, per channel and overall."""
    if not data.all.sessions:
        return empty("No bot sessions in this range")
    names, rates, notes = [], [], []
    for channel, verdicts in [*sorted(data.by_channel.items()), ("all channels", data.all)]:
        names.append(channel)
        rates.append(100 * verdicts.contained / verdicts.sessions)
        notes.append(f"{rates[-1]:.0f}%  ({verdicts.contained} of {verdicts.sessions})")
    colors = [_color(n, i) if n != "all channels" else INK for i, n in enumerate(names)]
    label_x = "% of bot sessions settled (no return in 48 h, not rated 1–2)"
    figure, axes = _hbars(names, rates, notes, colors, label_x)
    axes.set_xlim(0, 122)
    return figure


def handoff_chart(data: Handoffs) -> Figure:
    """Tickets per 100 conversations, by reason."""
    if not data.reasons:
        return empty("No handoffs in this range")
    names = [reason.replace("_", " ") for reason, _ in data.reasons]
    if data.conversations:
        values = [100 * count / data.conversations for _, count in data.reasons]
        notes = [f"{v:.1f}%  ({count})" for v, (_, count) in zip(values, data.reasons, strict=True)]
        return _hbars(names, values, notes, "#b7791f", "% of conversations handed to a person")[0]
    counts = [count for _, count in data.reasons]
    return _hbars(names, counts, [str(c) for c in counts], "#b7791f", "tickets")[0]


def _unit(seconds: float) -> tuple[float, str]:
    if seconds < 120:
        return 1, "seconds"
    if seconds < 3 * 3600:
        return 60, "minutes"
    return 3600, "hours"


def timing_chart(data: Timings) -> Figure:
    """Median and 90th percentile per agent."""
    if not data.agents:
        return empty("No tickets in this range")
    scale, unit = _unit(max(t.p90 for t in data.agents))
    figure, axes = _figure(max(1.8, 0.8 + 0.5 * len(data.agents)))
    positions = list(range(len(data.agents)))[::-1]
    for offset, (name, color, values) in enumerate(
        (
            ("median", ACCENT, [t.median / scale for t in data.agents]),
            ("90th percentile", "#a4bcfd", [t.p90 / scale for t in data.agents]),
        )
    ):
        ys = [p + 0.2 - 0.4 * offset for p in positions]
        axes.barh(ys, values, height=0.38, color=color, label=name)
        for y, value in zip(ys, values, strict=True):
            axes.text(value, y, f" {value:.1f}", va="center", fontsize=8, color=INK)
    names = [label(f"{t.agent} ({len(t.seconds)})") for t in data.agents]
    axes.set_yticks(positions, names)
    axes.grid(axis="y", visible=False)
    axes.set_xlim(0, max(t.p90 for t in data.agents) / scale * 1.2 or 1)
    axes.set_xlabel(f"{unit} (tickets in brackets)", color=MUTED)
    axes.legend(frameon=False, loc="lower left", bbox_to_anchor=(0, 1), ncols=2)
    return figure


def csat_chart(data: Csat) -> Figure:
    """Mean rating per agent, all people, and the assistant (asked after conversations it handled alone)."""
    groups = [*data.by_agent, data.human, data.bot]
    names = [*(r.group for r in data.by_agent), "all people", "assistant (bot)"]
    values = [r.mean or 0.0 for r in groups]
    notes = [f"{r.mean:.2f}  ({len(r.scores)})" if r.mean is not None else "no ratings" for r in groups]
    colors = [*([ACCENT] * len(data.by_agent)), INK, "#98a2b3"]
    figure, axes = _hbars(names, values, notes, colors, "mean rating, 1–5 (ratings in brackets)")
    axes.set_xlim(0, 6)
    axes.set_xticks([0, 1, 2, 3, 4, 5])
    return figure


def logo_chart(data: LogoPhotos) -> Figure:
    """Photos showing each logo, split by the mood of the message that carried them."""
    if not data.counts:
        return empty("No photos showing a known logo in this range")
    header, rows = data.table()
    figure, axes, positions = _bar_rows([f"{logo} ({whose})" for logo, whose, *_ in rows])
    left = [0] * len(rows)
    colors = {**SENTIMENT_COLORS, "unknown": MUTED}
    for index, mood in enumerate(header[3:]):
        values = [row[3 + index] for row in rows]
        axes.barh(positions, values, left=left, color=colors[mood], height=0.62, label=mood)
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.set_xlabel("photos", color=MUTED)
    axes.legend(frameon=False, loc="upper left", bbox_to_anchor=(0, 1.2), ncols=4)
    return figure


def photo_chart(data: PhotoHits) -> Figure:
    """Photo lookups by outcome."""
    if not data.total:
        return empty("No customer photos in this range")
    outcomes = data.outcomes()
    counts = [data.counts.get(o, 0) for o in outcomes]
    notes = [f"{c}  ({100 * c / data.total:.0f}%)" for c in counts]
    colors = [OUTCOME_COLORS.get(o, MUTED) for o in outcomes]
    names = [o.replace("_", " ") for o in outcomes]
    return _hbars(names, counts, notes, colors, "lookups")[0]
