"""Where a message's time goes inside the Rasa server, stage by stage, at turn 1 and at turn N.

Runs in runtime A (`bench/profile.py` starts it beside an action server and a database): loads the
model as the server does, with endpoints.yml (our SQL tracker store, the action server over HTTP),
and sends messages through `connectors.turns.handle_once`, the path every channel's inbox entry
takes (lock, tracker check, Rasa turn), with a collecting output channel instead of a platform.
Every graph node (each NLU component, each policy), each tracker-store call and each action call
over HTTP is timed by wrapping Rasa's own methods. Prints one table: milliseconds per message for
fresh conversations and for the last turns of one long conversation.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "current.tar.gz"
# Answered by rules (utter_* or an action), deterministic; no intent three times in a row (escalation).
SCRIPT = (
    "hello",
    "are you a robot",
    "opening hours?",
    "how much is delivery",
    "thank you",
    "where are your stores",
    "do you have any discount codes",
    "how can i contact you",
)


# Stages that are amounts rather than seconds, and how a mean of each is shown.
AMOUNTS = {"events read": "{:.0f}", "action request size": "{:.1f} kB"}


class Stages:
    """Seconds per stage (or the amount, for AMOUNTS) for the message being handled."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def add(self, stage: str, seconds: float) -> None:
        """Count `seconds` against `stage`."""
        self.current[stage] += seconds
        self.calls[stage] += 1

    def take(self) -> tuple[dict[str, float], dict[str, int]]:
        """What the message just handled took, and start afresh."""
        taken = (dict(self.current), dict(self.calls))
        self.current.clear()
        self.calls.clear()
        return taken


STAGES = Stages()


def timed_sync(stage: Callable[[Any], str], method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a method so its time goes to `stage(self)`."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            STAGES.add(stage(self), time.perf_counter() - started)

    return wrapper


def timed_async(stage: Callable[[Any], str], method: Callable[..., Any]) -> Callable[..., Any]:
    """The same for a coroutine method."""

    @functools.wraps(method)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await method(self, *args, **kwargs)
        finally:
            STAGES.add(stage(self), time.perf_counter() - started)

    return wrapper


def instrument() -> None:
    """Time Rasa's graph nodes, tracker store and remote actions (class-level, for this process)."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.engine.graph import GraphNode

    GraphNode.__call__ = timed_sync(lambda node: f"graph {node._node_name}", GraphNode.__call__)
    original_retrieve = SQLTrackerStore.retrieve

    async def retrieve(self: Any, sender_id: str) -> Any:
        started = time.perf_counter()
        tracker = await original_retrieve(self, sender_id)
        STAGES.add("tracker store retrieve", time.perf_counter() - started)
        STAGES.add("events read", len(tracker.events) if tracker else 0)
        return tracker

    SQLTrackerStore.retrieve = retrieve
    SQLTrackerStore.save = timed_async(lambda _: "tracker store save", SQLTrackerStore.save)
    RemoteAction.run = timed_async(lambda action: f"action {action.name()} (HTTP)", RemoteAction.run)
    original_format = RemoteAction._action_call_format

    def call_format(self: Any, tracker: Any, domain: Any) -> dict[str, Any]:
        body = original_format(self, tracker, domain)
        STAGES.add("action request size", len(json.dumps(body)) / 1000)  # kB
        return body

    RemoteAction._action_call_format = call_format


async def one_message(agent: Any, sender: str, text: str) -> float:
    """Handle one message as an inbox entry is handled; returns its total seconds."""
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    from connectors.turns import handle_once

    message = UserMessage(
        text, CollectingOutputChannel(), sender, input_channel="messenger", message_id=uuid.uuid4().hex
    )
    started = time.perf_counter()
    await handle_once(agent, message, "messenger")
    return time.perf_counter() - started


class Averages:
    """Per-stage mean over a set of messages."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.messages = 0

    def add(self, total: float) -> None:
        """Add the message just handled (its stages and its total)."""
        stages, calls = STAGES.take()
        for stage, seconds in stages.items():
            self.seconds[stage] += seconds
            self.calls[stage] += calls[stage]
        self.seconds["total (handle_once)"] += total
        self.calls["total (handle_once)"] += 1
        self.messages += 1

    def mean(self, stage: str) -> float:
        """Mean per message, in the stage's unit (seconds, or the amount's)."""
        return self.seconds.get(stage, 0.0) / max(self.messages, 1)

    def ms(self, stage: str) -> float:
        """Mean milliseconds per message."""
        return 1000 * self.mean(stage)

    def per_message(self, stage: str) -> float:
        """Mean calls per message."""
        return self.calls.get(stage, 0) / max(self.messages, 1)


async def profile(fresh: int, turns: int, tail: int) -> dict[str, Averages]:
    """Messages in fresh conversations, then one conversation of `turns` turns (its last `tail` kept)."""
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints

    endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
    agent = await load_agent(model_path=str(MODEL), endpoints=endpoints)
    for text in SCRIPT:  # warm-up: TensorFlow graphs, database pool, action server
        await one_message(agent, "profile-warmup", text)
    STAGES.take()
    results = {
        "fresh conversation (turn 1)": Averages(),
        f"long conversation (turns {turns - tail + 1}-{turns})": Averages(),
    }
    first, long = results.values()
    for index in range(fresh):
        first.add(
            await one_message(agent, f"profile-fresh-{uuid.uuid4().hex[:8]}", SCRIPT[index % len(SCRIPT)])
        )
    sender = f"profile-long-{uuid.uuid4().hex[:8]}"
    for turn in range(1, turns + 1):
        total = await one_message(agent, sender, SCRIPT[turn % len(SCRIPT)])
        if turn > turns - tail:
            long.add(total)
        else:
            STAGES.take()
        if turn % 50 == 0:
            print(f"  long conversation: turn {turn} ({total * 1000:.0f} ms)", flush=True)
    return results


def table(results: dict[str, Averages]) -> str:
    """Stages as rows, the two conversation kinds as columns (ms per message, calls per message)."""
    names = list(results)
    stages = sorted(
        {s for r in results.values() for s in r.seconds},
        key=lambda s: (s not in AMOUNTS, -results[names[-1]].mean(s)),
    )
    lines = [
        f"| stage | {' | '.join(f'{n}: ms/msg (calls)' for n in names)} |",
        "|---|" + "---|" * len(names),
    ]
    for stage in stages:
        cells = []
        for name in names:
            averages = results[name]
            if stage in AMOUNTS:
                cells.append(AMOUNTS[stage].format(averages.mean(stage)))
            else:
                cells.append(f"{averages.ms(stage):.1f} ({averages.per_message(stage):g})")
        lines.append(f"| {stage} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    """Profile and print the table (and write it as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", type=int, default=40, help="messages in fresh conversations")
    parser.add_argument("--turns", type=int, default=200, help="turns of the long conversation")
    parser.add_argument("--tail", type=int, default=20, help="last turns of it that are measured")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "turn_profile.json")
    parser.add_argument(
        "--stock",
        action="store_true",
        help="Rasa as it comes: actions over HTTP, unbounded sessions, every policy every time",
    )
    args = parser.parse_args()
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)  # as `rasa run` does; debug logs would dominate
    configure_structlog(logging.WARNING)
    if not args.stock:
        from bot.rasa_server.server import environment_defaults

        environment_defaults(os.environ)
    from rasa.utils.tensorflow.environment import setup_tf_environment

    setup_tf_environment()  # TensorFlow's thread settings from the environment, as `rasa run` applies them
    if not args.stock:
        from bot.rasa_server.server import install_turn_changes

        install_turn_changes()  # as `python -m bot.rasa_server` does
    instrument()
    results = asyncio.run(profile(args.fresh, args.turns, args.tail))
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {  # ms per message; amounts in their own unit
        name: {stage: round(a.mean(stage) if stage in AMOUNTS else a.ms(stage), 2) for stage in a.seconds}
        for name, a in results.items()
    }
    args.out.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
