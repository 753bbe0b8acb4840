"""Rounds of the same 20-conversation load on one stack, then the stock demo bot: to compare a change.

`python -m bench.rounds [--rounds 4] [--demo] [--profile FILE] [--timeline FILE]` (runtime B). A
single `make bench` run is one sample of a noisy shared machine; this starts `make run`'s stack once
(as `bench.messenger_e2e` does), calibrates, warms up, then measures the Messenger path at 20
conversations x 15 messages `--rounds` times, so a change can be judged against the spread of its own
runs. `--profile FILE` attaches `py-spy record --gil` (installed separately: `pip install py-spy`) to
the Rasa server during one longer round and writes its raw stacks to FILE; `--timeline FILE` has the
server write each turn's stages there (bot/timeline.py) and prints where the measured rounds' turns
spent their time; `--demo` measures stock Rasa's demo bot after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench import stock_rasa, timeline_report
from bench.messenger_e2e import (
    GRAPH_PORT,
    Messenger,
    RecordingSendApi,
    calibrate,
    graph_api_url,
    measure,
    new_psid,
    project_stack,
    say,
    texts,
)
from bench.rest_throughput import WARM_UP_CONVERSATIONS, WARM_UP_MESSAGES, ThroughputResult
from bot.devtools.devstack import Stack
from bot.timeline import TIMELINE_ENV

PROFILE_SECONDS = 25


@dataclass(frozen=True)
class Load:
    """One round's customers and messages each, and the unmeasured warm-up's."""

    conversations: int = 20
    messages: int = 15
    warm_up_conversations: int = WARM_UP_CONVERSATIONS
    warm_up_messages: int = WARM_UP_MESSAGES


async def rounds(
    stack: Stack,
    count: int,
    profile: Path | None = None,
    load: Load = Load(),
    graph_port: int = GRAPH_PORT,
    timeline: Path | None = None,
) -> list[ThroughputResult]:
    """Calibrate, warm up, then `count` measured rounds (and a profiled one); the rounds' results.

    `timeline`: the server's TURN_TIMELINE file, summed over the measured rounds and printed.
    """
    send_api = RecordingSendApi(graph_port)
    await send_api.start()
    rng = random.Random()
    results = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            messenger = Messenger(session, stack.rasa_url, send_api)
            replies = await calibrate(stack, messenger, new_psid(rng), texts(load.messages * 4))
            psids = [new_psid(rng) for _ in range(load.warm_up_conversations)]
            warm_up = await measure(messenger, psids, texts(load.warm_up_messages), replies)
            say(f"warm-up: {warm_up.summary()}")
            started = time.time()
            for number in range(1, count + 1):
                psids = [new_psid(rng) for _ in range(load.conversations)]
                results.append(await measure(messenger, psids, texts(load.messages), replies))
                say(f"round {number}: {results[-1].summary()}")
            if timeline is not None:
                say(timeline_report.table(timeline_report.read(timeline, started, time.time())))
            if profile is not None:
                await profiled(stack, messenger, replies, load, profile, rng)
    finally:
        await send_api.stop()
    return results


async def profiled(
    stack: Stack, messenger: Messenger, replies: list[int], load: Load, out: Path, rng: random.Random
) -> None:
    """One longer round with py-spy sampling the Rasa server's GIL holder."""
    beside = Path(sys.executable).parent / "py-spy"  # installed in this environment, not on PATH
    spy = shutil.which("py-spy") or (str(beside) if beside.exists() else None)
    if spy is None:
        say("--profile: py-spy is not installed (pip install py-spy); no profile taken")
        return
    command = [spy, "record", "--gil", "--nonblocking", "-r", "200", "-d", str(PROFILE_SECONDS)]
    command += ["-f", "raw", "-o", str(out), "-p", str(stack.service("rasa").pid)]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    psids = [new_psid(rng) for _ in range(load.conversations)]
    result = await measure(messenger, psids, texts(load.messages * 4), replies)
    recorder.wait()
    say(f"profiled round: {result.summary()}; py-spy stacks in {out}")


def main() -> None:
    """Start the stack, run the rounds, stop it; the demo bot after, if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="measured rounds at 20 conversations")
    parser.add_argument("--demo", action="store_true", help="then stock Rasa's demo bot, the same load")
    parser.add_argument("--profile", type=Path, help="py-spy raw stacks of one longer round to this file")
    parser.add_argument(
        "--timeline", type=Path, help="the server writes each turn's stages here (TURN_TIMELINE); summed"
    )
    args = parser.parse_args()
    if args.timeline is not None:
        args.timeline.unlink(missing_ok=True)
        os.environ[TIMELINE_ENV] = str(args.timeline.resolve())  # the stack's processes inherit it
    with tempfile.TemporaryDirectory() as var_dir:
        stack = project_stack(Path(var_dir), graph_api_url(GRAPH_PORT))
        stack.start(progress=lambda line: say(f"  {line}"))
        try:
            asyncio.run(rounds(stack, args.rounds, args.profile, timeline=args.timeline))
        finally:
            stack.stop()
    if args.demo:
        say(f"stock demo bot: {stock_rasa.measure_demo(say).summary()}")


if __name__ == "__main__":
    main()
