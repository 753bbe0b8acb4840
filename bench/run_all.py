"""`make bench`: the per-message cost table (issue 24), then training time, cold start, REST and photos.

The table, all measured in one run, one thing at a time: this project end to end through Messenger
(bench/messenger_e2e.py: ports 5310/5360, a recording Send API on 5370) at 1, 20 and 100 concurrent
conversations, turn 1 vs turn 200, and two stock-Rasa references over REST (bench/stock_rasa.py: its
`rasa init` demo on 5320, this project's assistant with Rasa's default config on 5325), with the ratios.
`--only e2e` measures just that; the older figures use their own stack (ports 5305/5355). Each stack
runs the embedded default configuration in a temporary VAR_DIR, so a running `make run` is not
disturbed. Nothing here is asserted: these are measurements. Figures go to results/bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench import stock_rasa
from bench.brand_tracking import run as brand_tracking_benchmark
from bench.engagement import public_reply_latency
from bench.logo_detection import run as logo_benchmark
from bench.messenger_e2e import (
    GRAPH_PORT,
    LEVELS,
    LONG_TURNS,
    REPLICAS_PLAN,
    Plan,
    graph_api_url,
    measure_project,
    project_stack,
    shared_stores,
)
from bench.photo_search import photo_reply_latency
from bench.photo_search import run as photo_benchmark
from bench.rest_throughput import ThroughputResult, measure
from bench.sentiment import run as sentiment_benchmark
from bot.devtools.devstack import RASA_BIN, ROOT, Ports, Stack
from bot.devtools.launcher import prepare_database
from bot.settings import Settings


def training_time() -> float:
    """Seconds for a full `rasa train` with an empty component cache."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "RASA_CACHE_DIRECTORY": f"{scratch}/cache", "RASA_TELEMETRY_ENABLED": "false"}
        started = time.perf_counter()
        subprocess.run(
            [str(RASA_BIN), "train", "--force", "--out", f"{scratch}/models"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - started


def first_reply_seconds(stack: Stack) -> float:
    """Latency of the very first message after start-up."""
    started = time.perf_counter()
    stack.say("bench-cold", "hi", timeout=120)
    return time.perf_counter() - started


def say(line: str) -> None:
    """Print a progress line at once (`make bench` pipes stdout, and long jobs must not look stuck)."""
    print(line, flush=True)


def older_figures(args: argparse.Namespace, results: dict[str, object]) -> None:
    """Training time, cold start, REST throughput and photo replies on their own stack; sentiment, photos."""
    if not args.skip_training:
        say("training from scratch (empty cache) ...")
        results["training_seconds"] = round(training_time(), 1)
        say(f"  training: {results['training_seconds']} s")

    with tempfile.TemporaryDirectory() as var_dir:
        env = {"VAR_DIR": var_dir, "DATABASE_URL": None, "REDIS_URL": None}
        prepare_database(Settings.from_env({"VAR_DIR": var_dir}))
        stack = Stack(Ports(5305, 5355, 5380, 5390), env=env, simulator=True)  # photo replies need it
        started = time.perf_counter()
        stack.start()
        try:
            results["cold_start_seconds"] = round(time.perf_counter() - started, 1)
            results["first_reply_seconds"] = round(first_reply_seconds(stack), 2)
            say(f"  cold start: {results['cold_start_seconds']} s to ready, first reply "
                f"{results['first_reply_seconds']} s")  # fmt: skip
            runs = []
            for n in args.conversations:
                rest_token = str(stack.env["REST_CHANNEL_TOKEN"])
                result = asyncio.run(measure(stack.rasa_url, rest_token, n, args.rounds))
                say(f"  {result.summary()}")
                runs.append({"conversations": n, **figures(result)})
            results["rest_channel"] = runs
            # The first photo loads the image model in the action server; it is reported, then excluded.
            results["photo_reply_first"] = photo_reply_latency(stack.simulator_url, count=1)
            results["photo_reply"] = photo_reply_latency(stack.simulator_url)
            results["public_photo_reply"] = public_reply_latency(stack.simulator_url)
            say(f"  photo comments answered in public (Facebook): {results['public_photo_reply']}")
            first = results["photo_reply_first"]["max_s"]
            say(f"  photo replies end to end (Messenger): {results['photo_reply']}")
            say(f"  (the first photo, which loads the image model: {first} s)")
        finally:
            stack.stop()

    say("\nsentiment (bench/sentiment.py):")
    sentiment_benchmark()
    say("\nphoto search (bench/photo_search.py):")
    photo_benchmark()
    say("\nlogo detection (bench/logo_detection.py):")
    logo_benchmark()
    say("\nbrand tracking (bench/brand_tracking.py, SQLite):")
    results["brand_tracking"] = brand_tracking_benchmark(out=ROOT / "results" / "brand_tracking_bench.json")


def figures(result: ThroughputResult) -> dict[str, float | int]:
    """One run's figures for the JSON file and the table."""
    return {
        "messages": result.messages,
        "messages_per_second": round(result.per_second, 1),
        "p50_ms": round(result.percentile(50) * 1000),
        "p95_ms": round(result.percentile(95) * 1000),
        "p99_ms": round(result.percentile(99) * 1000),
        "errors": result.errors,
    }


STOCK_DEMO, PROJECT_ON_STOCK = "stock demo", "project on stock Rasa"
LABELS = {
    "turn 1": "project turn 1 (Messenger)",
    f"turn {LONG_TURNS}": f"project turn {LONG_TURNS} (Messenger)",
    STOCK_DEMO: "stock demo (rasa init) REST",
    PROJECT_ON_STOCK: "project on stock Rasa REST",
}


def label(key: str) -> str:
    """The table's name for a run (`@N`: the project through Messenger at N conversations)."""
    if " x" in key:  # "@20 x2": the same on 2 replicas
        return f"project Messenger e2e, {key.split(' x')[1]} Rasa replicas (PostgreSQL, Redis)"
    return LABELS.get(key, "project Messenger e2e")


def on_replicas(replicas: int, full_stack: bool) -> dict[str, ThroughputResult]:
    """The horizontal path: @20 and @100 on `replicas` Rasa servers sharing PostgreSQL and Redis."""
    with tempfile.TemporaryDirectory() as var_dir, ExitStack() as stores:
        try:
            shared = shared_stores(stores)
        except Exception as err:  # a machine without them still gets the rest of the table
            say(f"replicas left out: PostgreSQL or Redis not reachable ({err.__class__.__name__}: {err})")
            return {}
        stack = project_stack(
            Path(var_dir), graph_api_url(GRAPH_PORT), full=full_stack, shared=shared, replicas=replicas
        )
        say(f"starting {replicas} Rasa replicas on PostgreSQL and Redis ...")
        stack.start(progress=lambda line: say(f"  {line}"))
        try:
            results, _ = asyncio.run(measure_project(stack, REPLICAS_PLAN, progress=say))
        finally:
            stack.stop()
    return {f"{key} x{replicas}": result for key, result in results.items()}


def per_message_cost(args: argparse.Namespace) -> dict[str, ThroughputResult]:
    """Issue 24's runs, one after another: stock demo, project (Messenger), project on stock Rasa."""
    runs: dict[str, ThroughputResult] = {}
    say(f"load average before: {load()} (anything else running on the machine skews every figure)")
    if not args.skip_stock:
        say("stock Rasa references: trained once, then reused from var/bench/ ...")
        stock_rasa.project_model(say)  # trains the demo first if needed: no training during a measurement
        runs[STOCK_DEMO] = stock_rasa.measure_demo(say)
    with tempfile.TemporaryDirectory() as var_dir:
        stack = project_stack(Path(var_dir), graph_api_url(GRAPH_PORT), full=args.full_stack)
        say(f"starting the project's stack (Rasa {stack.ports.rasa}, actions {stack.ports.actions}) ...")
        stack.start(progress=lambda line: say(f"  {line}"))
        try:
            plan = Plan(LEVELS, seeded=args.seeded_long)
            project, send_api = asyncio.run(measure_project(stack, plan, progress=say))
            say(f"  Send API: {sum(len(r) for r in send_api.replies.values())} replies and "
                f"{sum(send_api.sender_actions.values())} sender actions accepted, "
                f"{len(send_api.refused)} calls refused")  # fmt: skip
            runs.update(project)
            if not args.skip_stock:
                stack.service("rasa").stop()  # idle, but its workers poll: only the action server is shared
                action_url = f"http://127.0.0.1:{stack.ports.actions}/webhook"
                token = str(stack.env["ACTION_SERVER_TOKEN"])
                runs[PROJECT_ON_STOCK] = stock_rasa.measure_project_on_stock(action_url, token, say)
        finally:
            stack.stop()
    if args.replicas > 1:
        runs.update(on_replicas(args.replicas, args.full_stack))
    say(f"load average after: {load()}")
    references = [key for key in (STOCK_DEMO, PROJECT_ON_STOCK) if key in runs]
    return {key: runs[key] for key in [*(k for k in runs if k not in references), *references]}


def ratio(runs: dict[str, ThroughputResult], top: str, bottom: str) -> float | None:
    """msg/s of `top` over msg/s of `bottom`, when both ran."""
    if top not in runs or bottom not in runs or not runs[bottom].per_second:
        return None
    return round(runs[top].per_second / runs[bottom].per_second, 2)


def table(runs: dict[str, ThroughputResult]) -> tuple[str, dict[str, float | None]]:
    """The one table of issue 24, and its ratios (of msg/s)."""
    lines = ["| what | conv | messages | msg/s | p50 ms | p95 ms | p99 ms | errors |", "|---" * 8 + "|"]
    for key, result in runs.items():
        cells = " | ".join(str(value) for value in figures(result).values())
        lines.append(f"| {label(key)} | {result.conversations} | {cells} |")
    ratios = {
        "project@20 / stock demo": ratio(runs, "@20", STOCK_DEMO),
        "project@20 / project on stock Rasa": ratio(runs, "@20", PROJECT_ON_STOCK),
        f"turn {LONG_TURNS} / turn 1": ratio(runs, f"turn {LONG_TURNS}", "turn 1"),
    }
    for key in runs:
        if key.startswith("@20 x"):
            ratios[f"project@20, {key.split(' x')[1]} replicas / stock demo"] = ratio(runs, key, STOCK_DEMO)
    lines += [f"| {name} | | | {value}x | | | | |" for name, value in ratios.items() if value is not None]
    return "\n".join(lines), ratios


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def machine() -> dict[str, object]:
    """What the figures were measured on (only ratios from one run compare across machines)."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), "")  # fmt: skip
    return {"cpus": os.cpu_count(), "cpu": model, "platform": platform.platform()}


def main() -> None:
    """Run the benchmarks, print the table last, write results/bench.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["e2e"], help="e2e: only issue 24's table (no training, photos)")
    parser.add_argument("--conversations", type=int, nargs="+", default=[1, 10, 20])
    parser.add_argument("--rounds", type=int, default=2, help="times each customer runs the script")
    parser.add_argument("--skip-training", action="store_true", help="skip the (minutes long) training run")
    parser.add_argument("--skip-stock", action="store_true", help="leave out the stock-Rasa references")
    parser.add_argument("--full-stack", action="store_true", help="run the desk and monitoring beside it")
    parser.add_argument(
        "--seeded-long",
        action="store_true",
        help="200-turn conversations copied in as one session (stock Rasa's)",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=2,
        help="also measure @20 and @100 on this many Rasa replicas on PostgreSQL + Redis (0: leave out)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench.json")
    args = parser.parse_args()
    results: dict[str, object] = {"machine": machine()}
    if args.only != "e2e":
        older_figures(args, results)
    runs = per_message_cost(args)
    text, ratios = table(runs)
    results["per_message_cost"] = {
        "runs": [
            {"run": key, "what": label(key), "conversations": r.conversations, **figures(r)}
            for key, r in runs.items()
        ],
        "ratios": ratios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    say(f"\nper-message cost (issue 24), {results['machine']['cpus']} CPUs, one run:\n{text}")
    say(f"results written to {args.out}")


if __name__ == "__main__":
    main()
