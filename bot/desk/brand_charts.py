"""Brand tracking's charts: mentions per keyword over time, their mood, when the audience is active.

Drawn like the other analytics charts (bot/desk/charts.py: matplotlib to SVG on the server, text from
data as escaped SVG `<text>`). Keyword names come from monitoring.yml and are drawn, never interpreted.
The heat map names every cell in an SVG `<title>` (weekday, hour and count) and prints the counts in the
cells, so it reads without telling colours apart; its colours are steps, and the legend says which.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from bot.desk.charts import (
    ACCENT,
    INK,
    MUTED,
    OTHER_COLORS,
    SENTIMENT_COLORS,
    SIZE,
    TitledFigure,
    _bar_rows,
    _time_axis,
    empty,
    label,
)
from bot.monitoring.analytics import SENTIMENTS, WEEKDAYS, ActiveHours, BrandMentions, KeywordSentiment
from bot.monitoring.const import GROUPS

GROUP_TITLES = {"own": "Our brand", "products": "Our products", "competitors": "Competitors"}
KEYWORD_OF = {"own": "ours", "products": "product", "competitors": "competitor"}
KEYWORD_COLORS = (ACCENT, *OTHER_COLORS)
HEAT_COLORS = ("#dbe4fb", "#a9bef3", "#6f8fe6", "#3056d3", "#1c3797")  # light to dark: few to many
HEAT_EMPTY = "#f2f4f7"
NO_KEYWORDS = "No keywords to track: list them under brand: in monitoring.yml"
NO_MENTIONS = "No mentions of the tracked keywords in this range"


def _incomplete(figure: Figure, since: dt.datetime | None) -> None:
    """Say so when the scan stopped at its limit before the start of the range."""
    if since is not None:
        note = f"Only the newest messages were read: counts before {since:%Y-%m-%d %H:%M} UTC are incomplete."
        figure.text(0.01, -0.02, note, color=MUTED, fontsize=7, va="top")


def mentions_chart(data: BrandMentions) -> Figure:
    """Messages naming each keyword over time: one panel per group (ours, products, competitors)."""
    if not data.keywords:
        return empty(NO_KEYWORDS)
    if not any(data.total(group) for group in data.groups):
        return empty(NO_MENTIONS)
    groups = [g for g in GROUPS if g in data.groups]
    figure = Figure(figsize=(SIZE[0], 0.9 + 1.5 * len(groups)))
    panels = figure.subplots(len(groups), 1, sharex=True, squeeze=False)[:, 0]
    few = len(data.buckets) <= 31
    for axes, group in zip(panels, groups, strict=True):
        mine = [k for k in data.keywords if k.group == group]
        for i, keyword in enumerate(mine):
            axes.plot(
                data.buckets,
                data.counts[keyword.name],
                color=KEYWORD_COLORS[i % len(KEYWORD_COLORS)],
                label=label(f"{keyword.name} ({sum(data.counts[keyword.name])})"),
                marker="o" if few else None,
                markersize=3,
                linewidth=1.6,
            )
        axes.set_title(f"{GROUP_TITLES[group]}: {data.total(group)} mentions", loc="left", fontsize=9)
        axes.set_ylim(bottom=0)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
        axes.legend(
            frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.05), fontsize=7, ncols=1 + len(mine) // 9
        )
    panels[len(panels) // 2].set_ylabel("messages")
    _time_axis(panels[-1], data.bucket)
    _incomplete(figure, data.complete_from)
    return figure


def mood_chart(data: KeywordSentiment) -> Figure:
    """Negative, neutral and positive shares of the messages naming each keyword, with counts and means."""
    moods = [m for m in data.keywords if m.total]
    if not data.keywords:
        return empty(NO_KEYWORDS)
    if not moods:
        return empty(NO_MENTIONS)
    figure, axes, positions = _bar_rows([f"{m.name} ({KEYWORD_OF[m.group]})" for m in moods])
    left = [0.0] * len(moods)
    for name in SENTIMENTS:
        shares = [100 * m.counts[name] / m.total for m in moods]
        axes.barh(positions, shares, left=left, color=SENTIMENT_COLORS[name], height=0.62, label=name)
        left = [a + b for a, b in zip(left, shares, strict=True)]
    for y, mood in zip(positions, moods, strict=True):
        mean = "" if mood.mean is None else f", mean {mood.mean:+.2f}"
        axes.text(101, y, f"{mood.total}{mean}", va="center", color=INK, fontsize=8)
    axes.set_xlim(0, 132)
    axes.set_xticks([0, 25, 50, 75, 100])
    axes.spines["bottom"].set_bounds(0, 100)
    axes.set_xlabel("% of the messages naming the keyword (count, mean score −1…1)", color=MUTED)
    axes.legend(frameon=False, loc="lower left", bbox_to_anchor=(0, 1), ncols=3)
    _incomplete(figure, data.complete_from)
    return figure


def heat_steps(top: int) -> list[tuple[int, int, str]]:
    """The colour steps for counts up to `top`: (lowest count, highest count, colour), darkest last."""
    steps = min(len(HEAT_COLORS), top)
    bounds = [math.ceil(top * (i + 1) / steps) for i in range(steps)]
    colors = HEAT_COLORS[len(HEAT_COLORS) - steps :]  # few distinct counts still get dark colours
    return [
        (1 if i == 0 else bounds[i - 1] + 1, high, color)
        for i, (high, color) in enumerate(zip(bounds, colors, strict=True))
    ]


def _cells(axes: Axes, data: ActiveHours, steps: Sequence[tuple[int, int, str]]) -> dict[str, str]:
    """Draw one square per weekday and hour with its count; their titles by gid."""
    titles = {}
    for day, hours in enumerate(data.counts):
        for hour, count in enumerate(hours):
            color = next((c for _, high, c in steps if count <= high), HEAT_EMPTY) if count else HEAT_EMPTY
            cell = Rectangle((hour, day), 1, 1, facecolor=color, edgecolor="white")
            cell.set_gid(f"heat-{day}-{hour}")
            axes.add_patch(cell)
            items = "item" if count == 1 else "items"
            when = f"{WEEKDAYS[day]} {hour:02d}:00–{hour + 1:02d}:00 UTC"
            titles[f"heat-{day}-{hour}"] = f"{when}: {count} public {items}"
            if count:
                ink = "white" if color in HEAT_COLORS[-2:] else INK
                axes.text(hour + 0.5, day + 0.5, str(count), ha="center", va="center", fontsize=6, color=ink)
    return titles


def activity_chart(data: ActiveHours) -> Figure:
    """Public items per weekday and hour of the day (UTC): a heat map with the counts written in."""
    if not data.total:
        return empty("No public mentions or comments in this range")
    steps = heat_steps(max(max(hours) for hours in data.counts))
    busiest = ", ".join(f"{day} {hour:02d}:00 ({count})" for day, hour, count in data.busiest())
    title = f"When the audience is active (UTC): {data.total} public items; busiest {busiest}"
    figure = TitledFigure(title, {}, figsize=(SIZE[0], 2.9))
    axes = figure.add_subplot()
    figure.svg_titles.update(_cells(axes, data, steps))
    axes.set_xlim(0, 24)
    axes.set_ylim(7, 0)  # Monday on top
    axes.set_aspect("equal")
    axes.set_xticks([h + 0.5 for h in range(24)], [f"{h:02d}" for h in range(24)], fontsize=6.5)
    axes.set_yticks([d + 0.5 for d in range(7)], list(WEEKDAYS), fontsize=7.5)
    axes.tick_params(length=0)
    axes.grid(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_visible(False)
    axes.set_xlabel("hour of the day (UTC)", color=MUTED)
    axes.set_title(f"Busiest: {busiest}", loc="left", fontsize=8, color=INK)
    legend = [
        Patch(facecolor=c, label=f"{low}" if low == high else f"{low}–{high}") for low, high, c in steps
    ]
    axes.legend(
        handles=legend,
        title="items",
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=7,
        title_fontsize=7,
    )
    return figure
