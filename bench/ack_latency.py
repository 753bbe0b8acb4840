"""How fast a webhook is acknowledged (stored in the inbox, then 200), at a fixed rate, on each engine.

`python -m bench.ack_latency [--rate 200] [--seconds 20] [--engine sqlite|redis|both]` (`make bench-ack`).
Signed Messenger, Instagram and X webhooks (bench/fault_load.py builds them as the platforms do) are
posted at a fixed rate (open loop: a slow answer does not slow the sender down, as with a platform),
first to the Rasa server itself, which answers the messages in the same event loop, then to a webhook
ingress process (`connectors.ingress`) in front of it while the Rasa server answers them. Reports ack
latency p50/p95/p99/max, non-200 answers, and how long the replies took to go out. Nothing is asserted;
the issue's goal is p99 ≤ 50 ms at 200 req/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench import fault_ops as ops
from bench.fault_load import WebhookFactory, customers, script
from bench.stats import percentile
from bot.devtools.devstack import RASA_PYTHON, ROOT, Service, Stack
from bot.devtools.launcher import prepare_database
from bot.settings import Settings
from bot.simulator.config import SimulatorConfig

PORT_BASE = 5950
REDIS_DB = 14
DATABASE = "loom_ack_bench"
REPORT = ROOT / "var" / "bench" / "ack_latency.json"


@dataclass(frozen=True)
class Options:
    """What to measure."""

    rate: float
    seconds: float
    engines: tuple[str, ...]
    conversations: int
    drain_timeout: float


async def message_sends(session: aiohttp.ClientSession, stack: Stack) -> int:
    """Messages (not sender actions, not failures) the fake platforms received."""
    return sum(
        1 for record in await ops.recorded_sends(session, stack) if record.is_message and record.accepted
    )


async def measure(stack: Stack, options: Options, base_url: str) -> dict[str, Any]:
    """Post to `base_url` at `rate` for `seconds`, then wait for the replies; the figures."""
    config = SimulatorConfig.from_env({k: v for k, v in stack.env.items() if v}, port=stack.ports.simulator)
    factory = WebhookFactory(config)
    people = customers(options.conversations, random.Random())
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    total = int(options.rate * options.seconds)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await ops.open_windows(session, stack, people)
        before = await message_sends(session, stack)

        async def post(index: int) -> None:
            customer = people[index % len(people)]
            turn = index // len(people)
            hook = factory.build(customer, turn, script(index % len(people), turn + 1)[turn])
            started = time.perf_counter()
            try:
                async with session.post(base_url + hook.path, data=hook.raw, headers=hook.headers) as r:
                    await r.read()
                    status = str(r.status)
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                status = type(err).__name__
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

        start = time.perf_counter()
        tasks = []
        for index in range(total):  # open loop: each post at its own time, whatever the others do
            delay = start + index / options.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(index)))
        await asyncio.gather(*tasks)
        sent_for = time.perf_counter() - start
        answered, drained = 0, None
        while time.perf_counter() - start < sent_for + options.drain_timeout:
            answered = await message_sends(session, stack) - before
            if answered >= statuses.get("200", 0):
                drained = time.perf_counter() - start
                break
            await asyncio.sleep(1.0)
    return {
        "webhooks": total,
        "rate_per_s": options.rate,
        "achieved_rate_per_s": round(total / sent_for, 1),
        "statuses": statuses,
        "ack_ms": {
            "p50": round(percentile(latencies, 50) * 1000, 1),
            "p95": round(percentile(latencies, 95) * 1000, 1),
            "p99": round(percentile(latencies, 99) * 1000, 1),
            "max": round(max(latencies) * 1000, 1),
        },
        "replies_sent": answered,
        "all_answered_after_s": round(drained, 1) if drained is not None else None,
        "answered_per_s": round(answered / drained, 1) if drained else None,
    }


def run_engine(engine: str, options: Options) -> dict[str, Any]:
    """One stack (one Rasa server) on `engine`, measured, stopped."""
    var = tempfile.mkdtemp(prefix=f"loom-ack-{engine}-")
    try:
        if engine == "sqlite":
            return run_stack({"VAR_DIR": var, "DATABASE_URL": None, "REDIS_URL": None}, var, options)
        with ops.postgres_database(DATABASE) as database_url, ops.redis_database(REDIS_DB) as redis_url:
            return run_stack(
                {"VAR_DIR": var, "DATABASE_URL": database_url, "REDIS_URL": redis_url}, var, options
            )
    finally:
        shutil.rmtree(var, ignore_errors=True)


def run_stack(env: dict[str, str | None], var: str, options: Options) -> dict[str, Any]:
    """The stack, measured straight at the Rasa server, then through an ingress process."""
    prepare_database(Settings.from_env({k: v for k, v in env.items() if v}))
    stack = Stack(ops.block_ports(PORT_BASE), env=env, simulator=True, desk=False)
    port = stack.ports.rasa_replica(10)  # the last of the block's Rasa ports: free with one replica
    ingress = Service(
        name="ingress",
        command=[str(RASA_PYTHON), "-m", "connectors.ingress", "--port", str(port)],
        ready_url=f"http://127.0.0.1:{port}/readyz",
        log_path=Path(var) / "log" / "ingress.log",
        env=stack.env,
    )
    stack.start()
    try:
        figures = {"rasa_server": asyncio.run(measure(stack, options, stack.rasa_url))}
        ingress.start()
        deadline = time.monotonic() + 60
        while not ingress.ready():
            if not ingress.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"ingress did not start:\n{ingress.tail()}")
            time.sleep(0.5)
        figures["ingress"] = asyncio.run(measure(stack, options, f"http://127.0.0.1:{port}"))
        return figures
    finally:
        ingress.stop()
        stack.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks per second (200)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to post (20)")
    parser.add_argument("--engine", choices=("sqlite", "redis", "both"), default="both")
    parser.add_argument("--conversations", type=int, default=400, help="customers writing (400)")
    parser.add_argument("--drain-timeout", type=float, default=900.0, help="wait for replies at most (900 s)")
    args = parser.parse_args(argv)
    engines = ("sqlite", "redis") if args.engine == "both" else (args.engine,)
    options = Options(args.rate, args.seconds, engines, args.conversations, args.drain_timeout)
    results = {}
    for engine in engines:
        print(f"==> {engine}: {int(args.rate * args.seconds)} webhooks at {args.rate:g}/s", file=sys.stderr)
        results[engine] = run_engine(engine, options)
        for target, figures in results[engine].items():
            ack = figures["ack_ms"]
            print(
                f"{engine:7} {target:11} ack p50 {ack['p50']} ms  p95 {ack['p95']} ms  p99 {ack['p99']} ms  "
                f"max {ack['max']} ms  statuses {figures['statuses']}  replies {figures['replies_sent']} "
                f"(all out after {figures['all_answered_after_s']} s)"
            )
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {Path(REPORT).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
