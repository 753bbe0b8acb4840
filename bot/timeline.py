"""Where a message's time goes under load: a timeline of each turn, written when `TURN_TIMELINE` is set.

CPU profiles show what the process computes, not what a turn waits for; at 20 conversations a turn
spent most of its second waiting (bench/PROFILE.md, fourth round). With `TURN_TIMELINE=path` the Rasa
server appends one JSON line per handled inbox entry to `path`:

- `marks`: seconds from the entry's start (`received`, the webhook that stored it) to each stage the
  turn passed (`fetched` from the inbox, `taken` by its task, `locked`, `tracker` read, `parsed`,
  `predicted`, `saved`, ...);
- `spans`: seconds spent, summed over the turn, inside each kind of call (`nlu_wait` for a batch,
  `nlu_batch`, `action_call`, `platform_http`, `kv_sqlite`, `inbox_sql`, ...), which may overlap the
  marks' stages, and `calls`: how many calls each span summed;

and once a second a `loop` line: how late the event loop ran a timer that was due (its queue).
`bench/rounds.py --timeline` sums the file into a table. Off (the default), every call here is a
context-variable read and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterator
from contextvars import ContextVar, Token
from typing import IO, Any

TIMELINE_ENV = "TURN_TIMELINE"
LAG_PROBE_SECONDS = 0.01  # the loop probe's timer: how late it fires is the loop's queue


class Turn:
    """One inbox entry's marks and summed spans, in seconds since `received`."""

    __slots__ = ("calls", "key", "marks", "received", "spans")

    def __init__(self, key: str, received_wall: float) -> None:
        self.key = key
        # Stored by the webhook (wall clock, maybe another process); the rest is monotonic from here.
        self.received = time.perf_counter() - max(0.0, time.time() - received_wall)
        self.marks: dict[str, float] = {}
        self.spans: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def as_json(self) -> str:
        """The line written for this turn."""
        return json.dumps(
            {
                "key": self.key,
                "at": time.time(),
                "marks": {name: round(value, 5) for name, value in self.marks.items()},
                "spans": {name: round(value, 5) for name, value in self.spans.items()},
                "calls": self.calls,
            }
        )


_current: ContextVar[Turn | None] = ContextVar("loom_turn_timeline", default=None)
_out: IO[str] | None = None
_opened = False


def configure(path: str | None) -> None:
    """Write to `path` from now on (None: off); the environment's `TURN_TIMELINE` is read otherwise."""
    global _out, _opened
    if _out is not None:
        _out.close()
    # Line-buffered and kept open for the process: a turn's line is one write.
    _out = open(path, "a", buffering=1, encoding="utf-8") if path else None  # noqa: SIM115
    _opened = True


def _file() -> IO[str] | None:
    if not _opened:
        configure(os.environ.get(TIMELINE_ENV) or None)
    return _out


def enabled() -> bool:
    """Whether `TURN_TIMELINE` names a file (read once)."""
    return _file() is not None


def begin(key: str, received_wall: float, **earlier: float) -> Token[Turn | None] | None:
    """Start the timeline of the entry handled in this task (None when off).

    `earlier`: stages it reached before this task began, at `time.perf_counter()` times.
    """
    if not enabled():
        return None
    turn = Turn(key, received_wall)
    turn.marks.update({stage: at - turn.received for stage, at in earlier.items()})
    return _current.set(turn)


def end(token: Token[Turn | None] | None) -> None:
    """Write the turn begun with `token` (its `done` mark is now)."""
    if token is None:
        return
    turn = _current.get()
    _current.reset(token)
    out = _file()
    if turn is None or out is None:
        return
    turn.marks["done"] = time.perf_counter() - turn.received
    out.write(turn.as_json() + "\n")


def mark(stage: str) -> None:
    """The current turn reached `stage` now (the first time counts)."""
    turn = _current.get()
    if turn is not None and stage not in turn.marks:
        turn.marks[stage] = time.perf_counter() - turn.received


def add(name: str, seconds: float) -> None:
    """Add `seconds` (one call) to the current turn's span `name`."""
    turn = _current.get()
    if turn is not None:
        turn.spans[name] = turn.spans.get(name, 0.0) + seconds
        turn.calls[name] = turn.calls.get(name, 0) + 1


@contextlib.contextmanager
def span(name: str) -> Iterator[None]:
    """Time the block (awaits included) into the current turn's span `name`."""
    if _current.get() is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        add(name, time.perf_counter() - started)


_probe: asyncio.Task[None] | None = None


def start_probe() -> None:
    """Start `probe_loop` in the running loop, once per process, when the timeline is on."""
    global _probe
    if enabled() and _probe is None:
        _probe = asyncio.get_running_loop().create_task(probe_loop(), name="timeline-loop-probe")


async def probe_loop() -> None:
    """Forever: write once a second how late this loop fired a due timer (mean and max, seconds)."""
    out = _file()
    if out is None:
        return
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    since = loop.time()
    while True:
        due = loop.time() + LAG_PROBE_SECONDS
        await asyncio.sleep(LAG_PROBE_SECONDS)
        lags.append(max(0.0, loop.time() - due))
        if loop.time() - since >= 1.0:
            line: dict[str, Any] = {
                "loop": {"at": time.time(), "mean": sum(lags) / len(lags), "max": max(lags), "n": len(lags)}
            }
            out.write(json.dumps(line) + "\n")
            lags, since = [], loop.time()
