"""`make bench`: training time, cold start, and REST throughput/latency; prints numbers, writes JSON.

Runs against its own stack (ports 5305/5355, the embedded default configuration in a temporary
VAR_DIR), so a running `make run` is not disturbed. Nothing here is asserted: these are measurements.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench.photo_search import photo_reply_latency
from bench.photo_search import run as photo_benchmark
from bench.rest_throughput import measure
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


def main() -> None:
    """Run the benchmarks and print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, nargs="+", default=[1, 10, 20])
    parser.add_argument("--rounds", type=int, default=2, help="times each customer runs the script")
    parser.add_argument("--skip-training", action="store_true", help="skip the (minutes long) training run")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench.json")
    args = parser.parse_args()
    results: dict[str, object] = {}

    if not args.skip_training:
        print("training from scratch (empty cache) ...", flush=True)
        results["training_seconds"] = round(training_time(), 1)
        print(f"  training: {results['training_seconds']} s", flush=True)

    with tempfile.TemporaryDirectory() as var_dir:
        env = {"VAR_DIR": var_dir, "DATABASE_URL": None, "REDIS_URL": None}
        prepare_database(Settings.from_env({"VAR_DIR": var_dir}))
        stack = Stack(Ports(5305, 5355, 5380, 5390), env=env, simulator=True)  # photo replies need it
        started = time.perf_counter()
        stack.start()
        try:
            results["cold_start_seconds"] = round(time.perf_counter() - started, 1)
            results["first_reply_seconds"] = round(first_reply_seconds(stack), 2)
            print(f"  cold start: {results['cold_start_seconds']} s to ready, first reply "
                  f"{results['first_reply_seconds']} s", flush=True)  # fmt: skip
            runs = []
            for n in args.conversations:
                rest_token = str(stack.env["REST_CHANNEL_TOKEN"])
                result = asyncio.run(measure(stack.rasa_url, rest_token, n, args.rounds))
                print(f"  {result.summary()}", flush=True)
                runs.append(
                    {
                        "conversations": n,
                        "messages": result.messages,
                        "messages_per_second": round(result.per_second, 1),
                        "p50_ms": round(result.percentile(50) * 1000),
                        "p99_ms": round(result.percentile(99) * 1000),
                        "errors": result.errors,
                    }
                )
            results["rest_channel"] = runs
            # The first photo loads the image model in the action server; it is reported, then excluded.
            results["photo_reply_first"] = photo_reply_latency(stack.simulator_url, count=1)
            results["photo_reply"] = photo_reply_latency(stack.simulator_url)
            first = results["photo_reply_first"]["max_s"]
            print(f"  photo replies end to end (Messenger): {results['photo_reply']}")
            print(f"  (the first photo, which loads the image model: {first} s)")
        finally:
            stack.stop()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"results written to {args.out}")
    print("\nsentiment (bench/sentiment.py):", flush=True)
    sentiment_benchmark()
    print("\nphoto search (bench/photo_search.py):", flush=True)
    photo_benchmark()


if __name__ == "__main__":
    main()
