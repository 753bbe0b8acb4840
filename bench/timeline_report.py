"""Sums a `TURN_TIMELINE` file (bot/timeline.py) into where a turn's time went, stage by stage.

A turn's marks are cumulative (seconds since its webhook stored it), so each stage's time is the
difference to the mark before it, in the order the turn reached them; the spans are summed time inside
kinds of calls (they overlap the stages that contain them). `python -m bench.timeline_report FILE`
prints the table of every turn in the file; `bench.rounds --timeline FILE` prints it for its rounds.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Timeline:
    """The turns and loop probes read from a file, within a window of wall time."""

    stages: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    spans: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    totals: list[float] = field(default_factory=list)
    loop_mean: list[float] = field(default_factory=list)
    loop_max: list[float] = field(default_factory=list)

    @property
    def turns(self) -> int:
        """How many turns were read."""
        return len(self.totals)


def read(path: Path, since: float = 0.0, until: float = float("inf")) -> Timeline:
    """The lines of `path` written between `since` and `until` (wall clock)."""
    timeline = Timeline()
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "loop" in record:
            if since <= record["loop"]["at"] <= until:
                timeline.loop_mean.append(record["loop"]["mean"])
                timeline.loop_max.append(record["loop"]["max"])
            continue
        if not since <= record["at"] <= until:
            continue
        previous = 0.0
        for stage, at in sorted(record["marks"].items(), key=lambda item: item[1]):
            timeline.stages[stage].append(at - previous)
            previous = at
        for name, seconds in record["spans"].items():
            timeline.spans[name].append(seconds)
        for name, number in record.get("calls", {}).items():
            timeline.calls[name] += number
        timeline.totals.append(previous)
    return timeline


def _ms(values: list[float], turns: int) -> str:
    mean = sum(values) / turns  # turns without the stage or span count as 0
    p50 = statistics.median(values)
    p95 = sorted(values)[int(0.95 * (len(values) - 1))]
    return f"{mean * 1000:9.1f} {p50 * 1000:9.1f} {p95 * 1000:9.1f} {len(values):6d}"


def table(timeline: Timeline) -> str:
    """Stages in the order turns reach them, then spans: mean per turn, p50 and p95 where present (ms)."""
    turns = timeline.turns
    lines = ["no turns in the timeline"]
    if turns:
        header = f"{'':24} {'mean/turn':>9} {'p50':>9} {'p95':>9} {'turns':>6} {'calls/turn':>10}"
        lines = [f"{turns} turns; from the webhook's store to the inbox entry marked done (ms)", header]
        order = sorted(timeline.stages, key=_position)
        lines += [f"stage {name:18} {_ms(timeline.stages[name], turns)}" for name in order]
        lines.append(f"{'whole turn':24} {_ms(timeline.totals, turns)}")
        lines += [
            f"span  {name:18} {_ms(values, turns)} {timeline.calls[name] / turns:10.1f}"
            for name, values in sorted(timeline.spans.items())
        ]
    if timeline.loop_mean:
        mean = statistics.fmean(timeline.loop_mean) * 1000
        lines.append(f"event loop lag: mean {mean:.1f} ms, worst {max(timeline.loop_max) * 1000:.0f} ms")
    return "\n".join(lines)


def _position(stage: str) -> int:
    return STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER)


STAGE_ORDER = [  # the order a turn reaches them (connectors/inbox_worker.py, turns.py)
    "fetched",
    "taken",
    "quiet",
    "locked",
    "tracker",
    "typing",
    "parsed",
    "slots",
    "predicted",
    "saved",
    "handled",
    "done",
]


if __name__ == "__main__":
    print(table(read(Path(sys.argv[1]))))
