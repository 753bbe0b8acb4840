"""The turn timeline's report (bench/timeline_report.py) on a file written by bot/timeline.py."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bench import timeline_report
from bot import timeline


@pytest.fixture
def timeline_file(tmp_path):
    path = tmp_path / "timeline.jsonl"
    timeline.configure(str(path))
    yield path
    timeline.configure(None)


async def a_turn(key: str, nlu_seconds: float) -> None:
    token = timeline.begin(key, time.time() - 0.05)  # stored by its webhook 50 ms ago
    timeline.mark("taken")
    await asyncio.sleep(0.01)
    timeline.mark("locked")
    with timeline.span("nlu_batch"):
        await asyncio.sleep(nlu_seconds)
    timeline.mark("parsed")
    timeline.mark("locked")  # a stage is recorded when first reached
    timeline.end(token)


async def test_concurrent_turns_keep_their_own_marks_and_the_report_adds_them_up(timeline_file):
    await asyncio.gather(a_turn("a", 0.02), a_turn("b", 0.06))
    records = {r["key"]: r for r in map(json.loads, timeline_file.read_text().splitlines())}
    assert set(records) == {"a", "b"}
    assert records["a"]["spans"]["nlu_batch"] < 0.05 <= records["b"]["spans"]["nlu_batch"]
    for record in records.values():
        assert list(record["marks"]) == ["taken", "locked", "parsed", "done"]
        assert record["marks"]["taken"] >= 0.05  # counted from the webhook's store, not from `begin`

    read = timeline_report.read(timeline_file)
    assert read.turns == 2
    for index in range(2):  # each turn's stages add up to its whole time
        stages = sum(read.stages[stage][index] for stage in read.stages)
        assert stages == pytest.approx(read.totals[index])
    table = timeline_report.table(read)
    names = [line.split()[1] for line in table.splitlines() if line.startswith("stage")]
    assert names == ["taken", "locked", "parsed", "done"]
    span_line = next(line for line in table.splitlines() if line.startswith("span  nlu_batch"))
    assert span_line.split()[-1] == "1.0"  # one call a turn


async def test_the_loop_probe_reports_a_blocked_loop(timeline_file):
    task = asyncio.get_running_loop().create_task(timeline.probe_loop())
    await asyncio.sleep(0.05)
    time.sleep(0.3)  # the loop is blocked: the probe's timer fires late
    await asyncio.sleep(1.1)
    task.cancel()
    read = timeline_report.read(timeline_file)
    assert read.turns == 0 and read.loop_max and max(read.loop_max) >= 0.25
    assert "event loop lag" in timeline_report.table(read)


def test_the_window_leaves_out_other_turns(timeline_file):
    timeline.end(timeline.begin("early", time.time()))
    middle = time.time()
    timeline.end(timeline.begin("late", time.time()))
    assert timeline_report.read(timeline_file, since=middle).turns == 1
    assert timeline_report.read(timeline_file, until=middle).turns == 1
    later = timeline_report.read(timeline_file, since=time.time() + 1)
    assert timeline_report.table(later).startswith("no turns")
