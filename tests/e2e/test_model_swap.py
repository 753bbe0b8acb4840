"""A new model loaded into running Rasa replicas while customers write: nothing lost, nothing twice.

Issue 17, point 4. The production shape (PostgreSQL, Redis, two Rasa replicas, the Meta simulator),
started on a link of this module's own to the trained model, as `make run` starts on
models/current.tar.gz. The new model is the trained one repacked with another model_id
(tests/model_archives.py): it answers exactly as the old one, and `GET /status` tells them apart.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import statistics
import subprocess
import time
import urllib.error
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import redis
import requests

from bot.content.model_gate import gate
from bot.content.model_swap import SwapReport, swap
from bot.devtools.devstack import Ports, Stack
from bot.devtools.launcher import prepare_database
from bot.devtools.model_watch import ModelWatcher, follow
from bot.settings import PROJECT_ROOT, Settings

from ..conftest import TEST_POSTGRES_URL, _admin, _with_database
from ..model_archives import corrupt, repack
from .conftest import PORT_OFFSET
from .test_metrics import scrape, total
from .test_redis_only import redis_db_url

# About 11 minutes of swaps under load: `make test-soak`. `make test` has the short version, the Rasa
# server's own swap tests (tests/bot/rasa_server/test_model_swap.py: no stall, conversation kept, old
# model freed, auth).
pytestmark = [pytest.mark.slow, pytest.mark.soak]

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
BASE = 5505 + PORT_OFFSET  # Rasa 5505-5506, actions 5555, simulator 5580
REDIS_DB = 13
MESSENGER_CUSTOMERS = 6
REST_CUSTOMERS = 2  # one on each replica
TEXTS = ("hi", "thank you", "do you ship to ireland", "is the leeds store open today")  # from the NLU data
REPLY_TIMEOUT = 120.0
AFTER_SWAP = 5.0  # seconds the customers keep writing to the new model


@pytest.fixture(scope="module")
def swap_stack(redis_url, tmp_path_factory) -> Iterator[Stack]:
    """Two Rasa replicas on a database and Redis db of their own, serving the trained model via a link."""
    name = f"loom_swap_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    locks = redis_db_url(redis_url, REDIS_DB)
    redis.Redis.from_url(locks).flushdb()
    link = tmp_path_factory.mktemp("models") / "current.tar.gz"
    link.symlink_to(MODEL.resolve())
    env = {
        "DATABASE_URL": _with_database(TEST_POSTGRES_URL, name),
        "REDIS_URL": locks,
        "VAR_DIR": str(tmp_path_factory.mktemp("var")),
    }
    prepare_database(Settings.from_env(env))
    ports = Ports(BASE, BASE + 50, BASE + 75, BASE + 85)
    stack = Stack(ports, env, model=link, simulator=True, rasa_replicas=2, desk=False, monitoring=False)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def served_ids(stack: Stack) -> list[str]:
    """The model_id each replica's `GET /status` reports, replica 1 first."""
    return [
        stack.rasa_call("GET", "/status", replica=r)["model_id"] for r in range(1, stack.rasa_replicas + 1)
    ]


def answered(stack: Stack, sender: str) -> bool:
    """Whether REST sender `sender` gets an answer from the served model now."""
    return bool(stack.say(sender, "hi"))


@dataclass
class Message:
    """One customer message and when its first reply came."""

    conversation: str
    text: str
    sent: float
    answered: float | None = None
    mid: str | None = None  # Messenger's message id (the simulator's)

    @property
    def latency(self) -> float:
        assert self.answered is not None
        return self.answered - self.sent


@dataclass
class Load:
    """Customers writing one message after another (each waits for its reply) until told to stop."""

    stack: Stack
    messages: list[Message] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def sends(self, session: aiohttp.ClientSession, user: str) -> int:
        """Bot messages the simulator accepted for `user` (sender actions aside)."""
        params = {"platform": "messenger", "recipient": user}
        async with session.get(f"{self.stack.simulator_url}/_sim/sends", params=params) as answer:
            found = await answer.json()
        return sum(1 for s in found if "message" in s["body"] and s["accepted"])

    async def messenger(self, session: aiohttp.ClientSession, user: str) -> None:
        turn = 0
        while not self.stop.is_set():
            before = await self.sends(session, user)
            message = Message(user, TEXTS[turn % len(TEXTS)], time.monotonic())
            body = {"platform": "messenger", "user_id": user, "text": message.text}
            async with session.post(f"{self.stack.simulator_url}/_sim/customer_message", json=body) as answer:
                delivered = await answer.json()
            if answer.status != 200 or delivered.get("status") != 200:
                self.failures.append(f"{user}: webhook not acknowledged: {delivered}")
                return
            message.mid = delivered["mid"]
            self.messages.append(message)
            while await self.sends(session, user) <= before:
                if time.monotonic() - message.sent > REPLY_TIMEOUT:
                    self.failures.append(f"{user}: no reply to {message.text!r} in {REPLY_TIMEOUT:.0f} s")
                    return
                await asyncio.sleep(0.1)
            message.answered = time.monotonic()
            turn += 1

    async def rest(self, session: aiohttp.ClientSession, sender: str, replica: int) -> None:
        url = f"{self.stack.rasa_replica_url(replica)}/webhooks/rest/webhook"
        turn = 0
        while not self.stop.is_set():
            message = Message(sender, TEXTS[turn % len(TEXTS)], time.monotonic())
            self.messages.append(message)
            body = {"sender": sender, "message": message.text}
            async with session.post(
                url, json=body, headers=self.stack.bearer("REST_CHANNEL_TOKEN")
            ) as answer:
                replies = await answer.json() if answer.status == 200 else []
            if not replies:
                self.failures.append(f"{sender}: {answer.status} and no reply to {message.text!r}")
                return
            message.answered = time.monotonic()
            turn += 1


def user_events(tracker: dict) -> list[dict]:
    return [e for e in tracker["events"] if e["event"] == "user"]


def check_exactly_once(stack: Stack, load: Load) -> None:
    """Every message is in its conversation once, and each was answered before the next came."""
    for conversation in {m.conversation for m in load.messages}:
        sent = [m for m in load.messages if m.conversation == conversation]
        tracker = stack.rasa_call("GET", f"/conversations/{conversation}/tracker?include_events=ALL")
        said = user_events(tracker)
        assert [e["text"] for e in said] == [m.text for m in sent], conversation
        if sent[0].mid is not None:
            assert [e["message_id"] for e in said] == [m.mid for m in sent], conversation
        # After each customer message the bot said something before the customer's next message.
        kinds = [e["event"] for e in tracker["events"] if e["event"] in ("user", "bot")]
        unanswered = [i for i, kind in enumerate(kinds) if kind == "user" and kinds[i + 1 : i + 2] != ["bot"]]
        assert not unanswered, f"{conversation}: {kinds}"


def check_replies_sent_once(stack: Stack, load: Load) -> None:
    """What the simulator received for each Messenger user is what the tracker says the bot said."""
    for user in {m.conversation for m in load.messages if m.mid is not None}:
        tracker = stack.rasa_call("GET", f"/conversations/{user}/tracker?include_events=ALL")
        said = [e["text"] for e in tracker["events"] if e["event"] == "bot" and e.get("text")]
        params = {"platform": "messenger", "recipient": user}
        found = requests.get(f"{stack.simulator_url}/_sim/sends", params=params, timeout=30).json()
        sent = [s["body"]["message"].get("text") for s in found if "message" in s["body"] and s["accepted"]]
        assert sent == said, user


def put_model(stack: Stack, model: Path) -> dict:
    """Replica 1's answer to `PUT /model`: Rasa's error JSON, or code 204."""
    try:
        stack.rasa_call("PUT", "/model", {"model_file": str(model)}, timeout=600)
    except urllib.error.HTTPError as err:
        return json.loads(err.read())
    return {"code": 204, "message": ""}


def test_a_file_that_does_not_load_is_refused_and_the_old_model_keeps_answering(swap_stack, tmp_path):
    stack = swap_stack
    before = served_ids(stack)
    report = swap(corrupt(tmp_path / "broken.tar.gz"), stack.rasa_urls, stack.rasa_api_headers, gate=False)
    assert not report.ok and "cannot be read as a Rasa model archive" in report.refused
    assert [r.loaded for r in report.replicas] == [False, False]
    assert served_ids(stack) == before

    # Past swap's own check of the archive: replica 1 refuses a model that does not load, with the reason.
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(MODEL.resolve().read_bytes()[: 4 << 20])
    refused = put_model(stack, truncated)
    assert refused["code"] == 400 and "was not loaded" in refused["message"], refused
    assert before[0] in refused["message"]  # it says what it still serves
    assert served_ids(stack) == before and answered(stack, f"swap-{uuid.uuid4().hex[:8]}")


def test_a_model_below_the_nlu_gate_is_refused_and_no_replica_changes(swap_stack, tmp_path):
    stack = swap_stack
    weak = train_weak_model(tmp_path)
    before = served_ids(stack)
    gated = functools.partial(gate, kept_in=tmp_path / "gate")
    report = swap(weak, stack.rasa_urls, stack.rasa_api_headers, gate_check=gated)
    assert not report.ok and report.gate is not None and not report.gate.passed
    assert report.gate.macro_f1 is not None and report.gate.macro_f1 < 0.93
    assert "NLU gate failed" in report.refused and not report.gate.cached
    assert [(r.loaded, r.now) for r in report.replicas] == [(False, before[0]), (False, before[1])]
    assert served_ids(stack) == before

    again = swap(weak, stack.rasa_urls, stack.rasa_api_headers, gate_check=gated)
    assert again.gate is not None and again.gate.cached and again.gate.macro_f1 == report.gate.macro_f1

    # Without the gate, the server itself refuses it: it loads, but it cannot predict what to say.
    forced = swap(weak, stack.rasa_urls, stack.rasa_api_headers, gate=False)
    assert not forced.ok and "NLU-only model" in forced.refused
    assert [(r.loaded, r.now) for r in forced.replicas] == [(False, before[0]), (False, before[1])]
    assert forced.replicas[1].note == "not tried" and served_ids(stack) == before


def train_weak_model(folder: Path) -> Path:
    """A real NLU-only model that is not good enough: word counts, trained on two topics of the NLU data."""
    data = folder / "data"
    data.mkdir()
    for topic in ("store.yml", "shipping.yml"):
        shutil.copy(PROJECT_ROOT / "data" / "nlu" / topic, data / topic)
    config = folder / "config.yml"
    components = ("WhitespaceTokenizer", "CountVectorsFeaturizer", "LogisticRegressionClassifier")
    pipeline = "".join(f"  - name: {name}\n" for name in components)
    config.write_text(f"recipe: default.v1\nassistant_id: swap-test\nlanguage: en\npipeline:\n{pipeline}")
    rasa = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
    command = [str(rasa), "train", "nlu", "--config", str(config), "--nlu", str(data)]
    command += ["--out", str(folder), "--fixed-model-name", "weak"]
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
    return folder / "weak.tar.gz"


def test_a_swap_under_load_loses_no_message_and_keeps_conversations(swap_stack, tmp_path):
    stack = swap_stack
    candidate = tmp_path / "candidate.tar.gz"
    new_id = repack(MODEL.resolve(), candidate)
    # A conversation with state before the swap: the stock question fills product, colour and size.
    shopper = f"swap-shopper-{uuid.uuid4().hex[:8]}"
    assert "sold out" in "\n".join(
        m.get("text", "") for m in stack.say(shopper, "do you have the linen shirt in navy size M?")
    )
    slots_before = stack.tracker(shopper)["slots"]

    counted = [scrape(url, stack) for url in stack.rasa_urls]
    report, load = asyncio.run(swap_under_load(stack, candidate))
    counts = [scrape(url, stack) for url in stack.rasa_urls]

    assert report.ok, "\n".join(report.lines())
    assert served_ids(stack) == [new_id, new_id]
    assert not load.failures, load.failures
    assert all(m.answered is not None for m in load.messages)
    check_exactly_once(stack, load)
    check_replies_sent_once(stack, load)
    for name in ("loom_inbox_retries_total", "loom_inbox_failed_total"):  # no turn failed, even once
        grew = [total(a, name) - total(b, name) for a, b in zip(counts, counted, strict=True)]
        assert grew == [0, 0], name
    # The conversation is where it was (every slot), and carries on: "L" is the navy linen shirt of before.
    assert stack.tracker(shopper)["slots"] == slots_before
    reply = "\n".join(m.get("text", "") for m in stack.say(shopper, "what about in L?"))
    assert "Linen Shirt in navy, size L" in reply


async def swap_under_load(stack: Stack, candidate: Path) -> tuple[SwapReport, Load]:
    """Customers write; meanwhile the candidate is swapped into both replicas; they write a while more."""
    load = Load(stack)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REPLY_TIMEOUT)) as session:
        users = [str(2500000000000000 + uuid.uuid4().int % 10**12) for _ in range(MESSENGER_CUSTOMERS)]
        senders = [f"swap-rest-{uuid.uuid4().hex[:8]}" for _ in range(REST_CUSTOMERS)]
        customers = [asyncio.create_task(load.messenger(session, user)) for user in users]
        customers += [asyncio.create_task(load.rest(session, s, 1 + i % 2)) for i, s in enumerate(senders)]
        await asyncio.sleep(5)  # every customer is writing before the swap starts
        started = time.monotonic()
        report = await asyncio.to_thread(swap, candidate, stack.rasa_urls, stack.rasa_api_headers, False)
        ended = time.monotonic()
        await asyncio.sleep(AFTER_SWAP)
        load.stop.set()
        await asyncio.gather(*customers)
    during = [m.latency for m in load.messages if m.answered and m.sent < ended and m.answered > started]
    outside = [m.latency for m in load.messages if m.answered and (m.answered < started or m.sent > ended)]
    each = ", ".join(f"{r.seconds:.1f} s" for r in report.replicas)
    print(
        f"\nswap of 2 replicas: {report.seconds:.1f} s ({each});"
        f" {len(load.messages)} messages, {len(during)} during the swap: latency max {max(during):.2f} s,"
        f" median {statistics.median(during):.2f} s; outside it max {max(outside):.2f} s,"
        f" median {statistics.median(outside):.2f} s"
    )
    return report, load


def test_the_launchers_watcher_loads_a_repointed_link(swap_stack, tmp_path):
    stack = swap_stack
    new = tmp_path / "retrained.tar.gz"
    new_id = repack(MODEL.resolve(), new)
    watcher = ModelWatcher(stack.model)
    assert follow(watcher, stack, print) is None  # nothing changed yet
    staged = stack.model.with_name("staged.tar.gz")
    staged.symlink_to(new)
    staged.replace(stack.model)  # as scripts/train_model.py repoints models/current.tar.gz
    said: list[str] = []
    deadline = time.monotonic() + 900
    report = None
    while report is None and time.monotonic() < deadline:
        report = follow(watcher, stack, said.append)
        time.sleep(1)
    assert report is not None and report.ok, said
    assert report.gate is not None and report.gate.passed  # the launcher gates what make train made
    assert served_ids(stack) == [new_id, new_id]
    assert any("loaded on every replica" in line for line in said)
    assert follow(watcher, stack, said.append) is None  # once only
