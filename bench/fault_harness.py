"""`make fault`: kill things while customers write, then count lost, duplicated and out-of-order messages.

Two scenarios, each on a real stack (bot/devtools/devstack.py) with the fake Meta and X platforms
(bot/simulator):

- **replicas**: two Rasa replicas on PostgreSQL (a database of its own) and Redis (a database index of its
  own) and no desk. Conversations on Messenger, Instagram and X post signed webhooks, each message after
  the previous one's 200, spread over both replicas as a load balancer would, with redeliveries; a
  webhook without a 200 is posted again on the other replica. Meanwhile: SIGKILL of a replica right
  after it acked a message, then its restart; SIGKILL of the action server, restarted a few seconds
  later; the fake platform answering 429, then 503, to every send for a while. (The full run also
  kills the first replica later on.)
- **embedded**: the stack as `make run` starts it (SQLite and in-process locks in a fresh VAR_DIR, the
  desk too). A burst of messages, then SIGKILL of every process of ours at once right after the last
  ack, `make run`'s start again on the same VAR_DIR, and a share of the burst redelivered. The
  simulator stands for Meta and X and is not killed: a platform does not forget what it received when
  our host dies.

Then it waits (bounded) until every acked message is answered and judges from Rasa's trackers and the
simulator's recorded sends (bench/fault_judge.py). It exits non-zero unless every scenario has 0 lost,
0 duplicated, 0 out of order and every message acked. Figures go to stdout and to a JSON file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

from bench import fault_ops as ops
from bench.fault_load import Conversation, LoadBalancer, Webhook, WebhookFactory, converse, customers, script
from bench.fault_report import figures, table
from bot.conversations.tracker_store import sqlite_path, tracker_database_url
from bot.devtools.devstack import ROOT, Stack, rasa_service_name
from bot.devtools.launcher import prepare_database
from bot.settings import Settings
from bot.simulator.config import SimulatorConfig

Log = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """One scenario's size and faults."""

    conversations: int
    messages: int
    pause: float  # mean seconds between a conversation's messages (0: a burst)
    redeliver: float  # share of acked webhooks posted again
    replica_kills: int = 1  # 1: the second replica; 2: then the first one too
    actions_down: float = 3.0  # seconds the action server stays dead
    outage: float = 3.0  # seconds of 429, then of 503
    settle: float = 180.0  # seconds to wait for every acked message to be answered
    delivery_deadline: float = 120.0  # seconds a platform retries one webhook
    seed: int = 13
    port_base: int = 5800
    redis_db: int = 12
    database: str = "loom_fault"
    keep: bool = False  # keep the database, the Redis index and the VAR_DIR (to read logs)


FULL = {
    "replicas": Options(conversations=30, messages=20, pause=5.0, redeliver=0.25, replica_kills=2),
    "embedded": Options(conversations=20, messages=5, pause=0.0, redeliver=0.3, port_base=5825),
}
SHORT = {
    "replicas": Options(conversations=8, messages=8, pause=4.0, redeliver=0.3, settle=90.0),
    "embedded": Options(conversations=6, messages=4, pause=0.0, redeliver=0.3, port_base=5825, settle=90.0),
}


def log_line(line: str) -> None:
    """Progress on stderr, with the time."""
    print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)


def platform_config(stack: Stack) -> SimulatorConfig:
    """The secrets and ids the stack's channels use (the simulator's, here)."""
    return SimulatorConfig.from_env({k: v for k, v in stack.env.items() if v}, port=stack.ports.simulator)


class Progress:
    """First acks so far, and each replica's latest one: what the fault schedule waits for.

    A redelivery's 200 does not count: the replica drops it as known, so nothing would be in flight.
    """

    def __init__(self, planned: int) -> None:
        self.planned = planned
        self.acked = 0
        self.last_ack: dict[int, float] = {}

    def on_ack(self, webhook: Webhook, replica: int, first: bool) -> None:
        """Called by the load balancer on every 200; only a message's first one counts."""
        if first:
            self.last_ack[replica] = time.monotonic()
            self.acked += 1

    async def reached(self, share: float) -> None:
        """Wait until `share` of the planned messages are acked."""
        while self.acked < share * self.planned:
            await asyncio.sleep(0.05)

    async def next_ack(self, replica: int, timeout: float = 10.0) -> bool:
        """Wait for the replica's next first ack (its work is then in flight); False after `timeout`."""
        mark, deadline = self.last_ack.get(replica, 0.0), time.monotonic() + timeout
        while self.last_ack.get(replica, 0.0) == mark:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.002)
        return True


async def replica_faults(
    session: aiohttp.ClientSession, stack: Stack, progress: Progress, options: Options, log: Log
) -> list[ops.Fault]:
    """The schedule: a replica, the action server, 429s then 503s, (full run) the other replica."""
    faults: list[ops.Fault] = []
    restarts: list[asyncio.Task[ops.Fault]] = []
    for number, (share, replica) in enumerate(((0.2, 2), (0.6, 1))[: options.replica_kills]):
        await progress.reached(share)
        if restarts:
            await restarts[-1]  # never both replicas down: the platform would get no 200 for a minute
        name = rasa_service_name(replica)
        await progress.next_ack(replica)
        fault = ops.kill(stack, [name], "replica_kill")
        fault.details["replica"] = replica
        faults.append(fault)
        log(f"SIGKILL {name} (pid {fault.details['pids'][name]}) right after it acked; restarting it")
        restarts.append(asyncio.create_task(ops.revive(stack, fault, [name])))
        if number == 0:
            await progress.reached(0.35)
            fault = ops.kill(stack, ["actions"], "action_server_kill")
            log(f"SIGKILL actions; {options.actions_down:g} s down")
            await asyncio.sleep(options.actions_down)  # the fault's duration, not a wait for a result
            faults.append(await ops.revive(stack, fault, ["actions"]))
            await progress.reached(0.5)
            for status in (429, 503):
                log(f"the fake platform answers {status} to every send for {options.outage:g} s")
                faults.append(await ops.outage(session, stack, status, options.outage))
    for task in restarts:
        fault = await task
        log(f"{fault.target} ready again after {fault.ended - fault.started:.0f} s")
    return faults


async def load(
    stack: Stack, session: aiohttp.ClientSession, options: Options, progress: Progress, log: Log
) -> tuple[list[Conversation], LoadBalancer, float]:
    """Every conversation at once; returns them, the balancer (its posts) and the seconds it took."""
    rng = random.Random(options.seed)
    people = customers(options.conversations, rng)
    await ops.open_windows(session, stack, people)
    balancer = LoadBalancer(session, stack.rasa_urls, options.delivery_deadline, progress.on_ack)
    factory = WebhookFactory(platform_config(stack))
    conversations = [Conversation(c) for c in people]
    background: set[asyncio.Task[None]] = set()
    started = time.monotonic()
    size = f"{options.conversations} conversations x {options.messages} messages"
    log(f"{size} over {len(stack.rasa_urls)} replica(s)")
    await asyncio.gather(
        *(
            converse(
                c,
                script(i, options.messages),
                factory,
                balancer,
                random.Random(options.seed * 1000 + i),
                options.pause,
                options.redeliver,
                background,
            )
            for i, c in enumerate(conversations)
        )
    )
    seconds = time.monotonic() - started
    if background:
        await asyncio.gather(*background)
    return conversations, balancer, seconds


async def replicas_run(
    stack: Stack, options: Options, database_url: str, redis_url: str, log: Log
) -> dict[str, Any]:
    """Load with faults on the started two-replica stack, then settle and judge."""
    progress = Progress(options.conversations * options.messages)
    async with aiohttp.ClientSession() as session:
        schedule = asyncio.create_task(replica_faults(session, stack, progress, options, log))
        conversations, balancer, load_s = await load(stack, session, options, progress, log)
        faults = await schedule
        log(f"load done in {load_s:.0f} s; waiting for every acked message to be answered")
        judged, sends, events, settle_s = await ops.settle(
            session, stack, conversations, options.settle, ops.kill_times(faults)
        )
    if options.keep:
        ops.dump(stack.var_dir / "judged.json", conversations, sends, events)
    webhooks = [w for c in conversations for w in c.webhooks]
    for fault in faults:
        if fault.kind == "replica_kill":
            ops.recovery_seconds(fault, webhooks, judged, fault.details["replica"])
    ids = [c.customer.user_id for c in conversations]
    evidence = {
        "tracker_store_rows": ops.stored_events(database_url, ids),
        "redis_keys": ops.redis_key_count(redis_url),
        "pids": {s.name: s.pid for s in stack.services},
    }
    timings = {"load": load_s, "settle": settle_s}
    planned = options.conversations * options.messages
    return figures("replicas", planned, conversations, balancer, judged, sends, faults, timings, evidence)


async def embedded_run(stack: Stack, options: Options, settings: Settings, log: Log) -> dict[str, Any]:
    """A burst, SIGKILL of all our processes right after the last ack, `make run`'s start, judge."""
    progress = Progress(options.conversations * options.messages)
    async with aiohttp.ClientSession() as session:
        burst = replace(options, redeliver=0.0)
        conversations, balancer, load_s = await load(stack, session, burst, progress, log)
        ours = [s.name for s in stack.services if s.name != "simulator"]
        fault = ops.kill(stack, ours, "kill_all")
        after = 1000 * (fault.started - max_ack(conversations))
        log(f"SIGKILL {', '.join(ours)} at once, {after:.0f} ms after the last ack")
        await asyncio.to_thread(prepare_database, settings)  # what `make run` does first
        await ops.revive(stack, fault, ours)
        log(f"stack up again after {fault.ended - fault.started:.0f} s; redelivering part of the burst")
        rng = random.Random(options.seed)
        acked = [w for c in conversations for w in c.acked]
        again = [w for w in acked if rng.random() < options.redeliver]
        await asyncio.gather(*(balancer.redeliver(w, 1, 0.0) for w in again))
        judged, sends, events, settle_s = await ops.settle(
            session, stack, conversations, options.settle, ops.kill_times([fault])
        )
    if options.keep:
        ops.dump(stack.var_dir / "judged.json", conversations, sends, events)
    ops.recovery_seconds(fault, [w for c in conversations for w in c.webhooks], judged, None)
    tracker_db = sqlite_path(tracker_database_url({**stack.env, "VAR_DIR": str(stack.var_dir)}))
    evidence = {
        "tracker_db_bytes": tracker_db.stat().st_size if tracker_db and tracker_db.exists() else 0,
        "pids": {s.name: s.pid for s in stack.services},
    }
    timings = {"load": load_s, "settle": settle_s}
    planned = options.conversations * options.messages
    return figures("embedded", planned, conversations, balancer, judged, sends, [fault], timings, evidence)


def max_ack(conversations: list[Conversation]) -> float:
    """Wall clock of the last first-200 of the burst."""
    return max((w.acked_at for c in conversations for w in c.acked if w.acked_at), default=time.time())


def run_replicas(options: Options, log: Log = log_line) -> dict[str, Any]:
    """The replicas scenario from nothing to a report: database, Redis index, stack, load, faults, judge."""
    started = time.monotonic()
    var = tempfile.mkdtemp(prefix="loom-fault-replicas-")
    with (
        ops.postgres_database(options.database, keep=options.keep) as database_url,
        ops.redis_database(options.redis_db, keep=options.keep) as redis_url,
    ):
        env = {"VAR_DIR": var, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
        log(f"replicas: database {options.database}, Redis db {options.redis_db}, VAR_DIR {var}")
        prepare_database(Settings.from_env(env))
        stack = Stack(
            ops.block_ports(options.port_base), env=env, simulator=True, rasa_replicas=2, desk=False
        )
        stack.start(progress=lambda line: log(f"  {line}"))
        log(f"stack ready after {time.monotonic() - started:.0f} s")
        try:
            report = asyncio.run(replicas_run(stack, options, database_url, redis_url, log))
        finally:
            stack.stop()
    report["timings_s"]["total"] = round(time.monotonic() - started, 1)
    report["var_dir"] = var if options.keep else None
    cleanup(var, options.keep)
    return report


def run_embedded(options: Options, log: Log = log_line) -> dict[str, Any]:
    """The embedded scenario from nothing to a report, on a fresh VAR_DIR."""
    started = time.monotonic()
    var = tempfile.mkdtemp(prefix="loom-fault-embedded-")
    env: dict[str, str | None] = {"VAR_DIR": var, "DATABASE_URL": None, "REDIS_URL": None}
    settings = Settings.from_env({"VAR_DIR": var})
    log(f"embedded: SQLite in VAR_DIR {var}")
    prepare_database(settings)
    stack = Stack(ops.block_ports(options.port_base), env=env, simulator=True)  # as `make run`, desk included
    stack.start(progress=lambda line: log(f"  {line}"))
    try:
        report = asyncio.run(embedded_run(stack, options, settings, log))
    finally:
        stack.stop()
    report["timings_s"]["total"] = round(time.monotonic() - started, 1)
    report["var_dir"] = var if options.keep else None
    cleanup(var, options.keep)
    return report


def cleanup(var: str, keep: bool) -> None:
    """Remove a run's VAR_DIR unless asked to keep it."""
    if not keep:
        import shutil

        shutil.rmtree(var, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios, print the table, write the JSON; 0 only if every scenario passed."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.fault_harness", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--short", action="store_true", help="the small version CI runs")
    parser.add_argument("--scenario", choices=("replicas", "embedded", "both"), default="both")
    parser.add_argument("--conversations", type=int, help="conversations per scenario")
    parser.add_argument("--messages", type=int, help="messages per conversation")
    parser.add_argument(
        "--pause", type=float, help="mean seconds between a conversation's messages (replicas)"
    )
    parser.add_argument("--redeliver", type=float, help="share of acked webhooks posted again")
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--port-base", type=int, default=5800, help="ports base..base+49 (5800-5849 by default)"
    )
    parser.add_argument(
        "--redis-db", type=int, default=12, help="Redis database index, emptied before and after"
    )
    parser.add_argument("--database", default="loom_fault", help="PostgreSQL database, created and dropped")
    parser.add_argument(
        "--keep", action="store_true", help="keep database, Redis index and logs for a post-mortem"
    )
    parser.add_argument("--out", type=Path, help="JSON report (default var/bench/fault_harness[_short].json)")
    args = parser.parse_args(argv)
    presets = SHORT if args.short else FULL
    chosen = ("replicas", "embedded") if args.scenario == "both" else (args.scenario,)
    overrides = {
        k: v
        for k, v in {
            "conversations": args.conversations,
            "messages": args.messages,
            "pause": args.pause,
            "redeliver": args.redeliver,
            "seed": args.seed,
        }.items()
        if v is not None
    }
    common = {"redis_db": args.redis_db, "database": args.database, "keep": args.keep}
    reports: list[dict[str, Any]] = []
    for scenario in chosen:
        base = args.port_base + (25 if scenario == "embedded" else 0)
        options = replace(presets[scenario], **overrides, **common, port_base=base)
        runner = run_replicas if scenario == "replicas" else run_embedded
        reports.append(runner(options))
    out = args.out or ROOT / "var" / "bench" / f"fault_harness{'_short' if args.short else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"short": args.short, "scenarios": reports}, indent=2) + "\n")
    print(table(reports))
    print(f"\nfull figures: {out}")
    return 0 if all(r["passed"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
