"""The references for issue 24, measured by `make bench` in the same run as the project: stock Rasa 3.6.

a. Stock Rasa's own demo: `rasa init --no-prompt` (the mood bot), served by plain `rasa run` with its
   own credentials.yml (`rest:`), driven over REST with the demo's kind of messages.
b. This project's assistant (domain.yml, data/) trained with the config.yml `rasa init` writes (pipeline
   and policies left to Rasa's defaults, our language and assistant_id), served by plain `rasa run` over
   REST with the in-memory tracker store, calling the project's own action server: what a user would
   build with stock Rasa. No custom component runs, so messages carry no sentiment (action_update_sentiment
   sees neutral turns) and entities come from DIET alone.

Both trained models are cached under var/bench/ (the demo once, the project by a hash of its inputs),
so only the first run pays for training. Every rasa process runs with RASA_TELEMETRY_ENABLED=false and
logs to var/bench/*.log; each server is stopped before the next measurement starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import yaml

from bench.rest_throughput import SCRIPT, WARM_UP_CONVERSATIONS, WARM_UP_MESSAGES, ThroughputResult, cycled
from bot.devtools.devstack import RASA_BIN, ROOT, Service

BENCH_DIR = ROOT / "var" / "bench"
DEMO_DIR = BENCH_DIR / "stock-demo"
PROJECT_DIR = BENCH_DIR / "stock-project"
DEMO_PORT = 5320
PROJECT_PORT = 5325
START_TIMEOUT = 300.0
# The mood bot's intents: greet, mood_unhappy (two replies), affirm, mood_great, bot_challenge, goodbye.
DEMO_SCRIPT = ("hi", "I am sad", "yes", "great", "are you a bot?", "bye")
CONVERSATIONS = 20
MESSAGES = 15  # each: 300 messages at 20 conversations, as in the issue
RASA_ENV = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}

Progress = Callable[[str], None]


def say(line: str) -> None:
    """Print a progress line at once."""
    print(line, flush=True)


def run_rasa(
    args: Sequence[str],
    log: Path,
    what: str,
    progress: Progress,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> None:
    """Run a (minutes long) rasa command with its output in `log`, saying every 30 s that it still runs."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("ab") as output:
        environment = {**os.environ, **RASA_ENV, **(env or {})}
        process = subprocess.Popen(
            [str(RASA_BIN), *args], cwd=cwd, env=environment, stdout=output, stderr=output
        )
        while process.poll() is None:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                progress(f"  {what}: {time.monotonic() - started:.0f} s ...")
    if process.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {process.returncode}); see {log}")
    progress(f"  {what}: done in {time.monotonic() - started:.0f} s")


def demo_model(progress: Progress = say) -> Path:
    """The trained `rasa init` demo, made once (about 95 s) and reused from DEMO_DIR."""
    models = sorted((DEMO_DIR / "models").glob("*.tar.gz"))
    if models:
        return models[-1]
    scratch = DEMO_DIR.with_name("stock-demo.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    scratch.mkdir(parents=True)  # `rasa init` wants the directory to exist
    progress("stock demo: rasa init --no-prompt (trains the mood bot, about 95 s) ...")
    run_rasa(["init", "--no-prompt", "--init-dir", str(scratch)], BENCH_DIR / "stock-demo-init.log",
             "rasa init", progress, cwd=BENCH_DIR)  # fmt: skip
    scratch.rename(DEMO_DIR)  # only a finished demo is ever reused
    return sorted((DEMO_DIR / "models").glob("*.tar.gz"))[-1]


def stock_config() -> str:
    """`rasa init`'s config.yml (no pipeline, no policies: Rasa's defaults) with our language and id."""
    config = yaml.safe_load((DEMO_DIR / "config.yml").read_text())
    ours = yaml.safe_load((ROOT / "config.yml").read_text())
    config.update(language=ours["language"], assistant_id=ours["assistant_id"])
    header = "# rasa init's config.yml with this project's language and assistant_id (bench/stock_rasa.py)\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def project_inputs_key(config: str) -> str:
    """A short hash of domain.yml, data/ and the stock config: what the stock model is trained from."""
    digest = hashlib.sha256(config.encode())
    files = [ROOT / "domain.yml", *sorted(p for p in (ROOT / "data").rglob("*") if p.is_file())]
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def project_model(progress: Progress = say) -> Path:
    """The project's assistant trained on stock Rasa's defaults, cached by its inputs' hash."""
    demo_model(progress)  # its config.yml is the one `rasa init` writes
    config = stock_config()
    folder = PROJECT_DIR / project_inputs_key(config)
    model = folder / "model.tar.gz"
    if model.exists():
        return model
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "config.yml").write_text(config)  # `rasa train` appends the defaults it used, as comments
    progress("stock project: rasa train with Rasa's default pipeline and policies (minutes) ...")
    args = ["train", "--config", str(folder / "config.yml"), "--domain", "domain.yml", "--data", "data"]
    args += ["--out", str(folder / "out"), "--fixed-model-name", "model"]
    # Its own component cache, so it neither reuses nor evicts the project's (.rasa/cache).
    cache = {"RASA_CACHE_DIRECTORY": str(PROJECT_DIR / "cache")}
    run_rasa(args, BENCH_DIR / "stock-project-train.log", "rasa train (stock config)", progress, env=cache)
    (folder / "out" / "model.tar.gz").rename(model)
    return model


def rasa_server(name: str, model: Path, port: int, folder: Path, env: dict[str, str | None]) -> Service:
    """Plain `rasa run` with the credentials.yml and endpoints.yml in `folder`."""
    command = [str(RASA_BIN), "run", "--model", str(model), "--interface", "127.0.0.1", "--port", str(port)]
    command += ["--credentials", str(folder / "credentials.yml")]
    command += ["--endpoints", str(folder / "endpoints.yml")]
    return Service(name, command, f"http://127.0.0.1:{port}/", BENCH_DIR / f"{name}-{port}.log",
                   env={**RASA_ENV, **env})  # fmt: skip


def serve(service: Service, progress: Progress) -> None:
    """Start `service` and wait until it answers (Rasa loads its model before it listens)."""
    if service.ready():
        raise RuntimeError(f"port of {service.name} is already in use ({service.ready_url})")
    started = time.monotonic()
    service.start()
    while not service.ready():
        if not service.alive():
            raise RuntimeError(f"{service.name} exited during start-up:\n{service.tail()}")
        if time.monotonic() - started > START_TIMEOUT:
            service.stop()
            raise RuntimeError(f"{service.name} not ready after {START_TIMEOUT:.0f} s:\n{service.tail()}")
        time.sleep(0.5)
    progress(f"  {service.name} ready after {time.monotonic() - started:.0f} s")


@contextmanager
def running(service: Service, port: int, progress: Progress) -> Iterator[str]:
    """The server started and ready, as its URL; stopped afterwards, whatever happened."""
    serve(service, progress)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        service.stop()


async def rest_customer(
    session: aiohttp.ClientSession, url: str, messages: list[str], latencies: list[float]
) -> int:
    """One REST conversation, each message after the previous reply; the number of failed messages."""
    sender, errors = f"bench-{uuid.uuid4().hex[:10]}", 0
    for text in messages:
        started = time.perf_counter()
        try:
            async with session.post(url, json={"sender": sender, "message": text}) as response:
                replies = await response.json(content_type=None)
            if response.status != 200 or not replies:
                errors += 1
                continue
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            errors += 1
            continue
        latencies.append(time.perf_counter() - started)
    return errors


async def measure_rest(
    base_url: str, script: Sequence[str], conversations: int = CONVERSATIONS, messages: int = MESSAGES
) -> ThroughputResult:
    """`conversations` customers at once over Rasa's REST channel, `messages` each from `script`."""
    url = f"{base_url}/webhooks/rest/webhook"
    texts = cycled(script, messages)
    latencies: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        warm_up = cycled(script, WARM_UP_MESSAGES)
        await asyncio.gather(
            *(rest_customer(session, url, warm_up, []) for _ in range(WARM_UP_CONVERSATIONS))
        )
        started = time.perf_counter()
        customers = [rest_customer(session, url, texts, latencies) for _ in range(conversations)]
        errors = await asyncio.gather(*customers)
        seconds = time.perf_counter() - started
    return ThroughputResult(conversations, len(latencies), seconds, latencies, sum(errors))


async def transcript(base_url: str, script: Sequence[str]) -> list[tuple[str, list[str]]]:
    """One conversation through `script`: each message with the texts of its replies (to see what differs)."""
    lines = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        sender = f"bench-transcript-{uuid.uuid4().hex[:6]}"
        for text in script:
            payload = {"sender": sender, "message": text}
            async with session.post(f"{base_url}/webhooks/rest/webhook", json=payload) as response:
                replies = await response.json(content_type=None)
            lines.append((text, [str(r.get("text") or r.get("image") or r) for r in replies]))
    return lines


def measure_demo(progress: Progress = say) -> ThroughputResult:
    """(a) stock Rasa's demo bot over REST."""
    model = demo_model(progress)
    with running(rasa_server("stock-demo", model, DEMO_PORT, DEMO_DIR, {}), DEMO_PORT, progress) as url:
        progress(f"stock demo over REST: {CONVERSATIONS} conversations x {MESSAGES} messages ...")
        result = asyncio.run(measure_rest(url, DEMO_SCRIPT))
    progress(f"  {result.summary()}")
    return result


def measure_project_on_stock(
    action_url: str, action_token: str, progress: Progress = say
) -> ThroughputResult:
    """(b) this project's assistant on stock Rasa, calling the action server at `action_url`."""
    model = project_model(progress)
    folder = model.parent
    (folder / "credentials.yml").write_text("rest:\n")
    # Our action server, spelled out as stock Rasa needs it (no bot.rasa_server.action_endpoint here):
    # Rasa's own ${VAR} substitution for the URL and the bearer header.
    bearer = {"Authorization": "Bearer ${ACTION_SERVER_TOKEN}"}
    endpoint = {"url": "${ACTION_ENDPOINT_URL}", "headers": bearer}
    (folder / "endpoints.yml").write_text(yaml.safe_dump({"action_endpoint": endpoint}))
    env: dict[str, str | None] = {"ACTION_ENDPOINT_URL": action_url, "ACTION_SERVER_TOKEN": action_token}
    with running(
        rasa_server("stock-project", model, PROJECT_PORT, folder, env), PROJECT_PORT, progress
    ) as url:
        lines = asyncio.run(transcript(url, SCRIPT))
        (BENCH_DIR / "stock-project-transcript.txt").write_text(
            "".join(f"> {text}\n" + "".join(f"  < {reply}\n" for reply in replies) for text, replies in lines)
        )
        progress(f"  replies per message on stock Rasa: {[len(replies) for _, replies in lines]} "
                 f"(transcript: var/bench/stock-project-transcript.txt)")  # fmt: skip
        progress(f"project on stock Rasa over REST: {CONVERSATIONS} conversations x {MESSAGES} messages ...")
        result = asyncio.run(measure_rest(url, SCRIPT))
    progress(f"  {result.summary()}")
    return result
