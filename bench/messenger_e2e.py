"""Per-message cost end to end through the Messenger channel (issue 24): signed webhook in, last reply out.

`python -m bench.messenger_e2e` (or `make bench`, which adds the stock-Rasa references). The stack is
`make run`'s (bot/devtools/devstack.py: the embedded defaults in a temporary VAR_DIR, ports 5310/5360),
except that its Messenger channel sends to a recording fake Send API inside this process: it checks
every call with the simulator's own handler (token, node, appsecret_proof, body shape, 24 h window) and
notes when each reply arrives, so a message's latency is exact: from posting its signed webhook to the
arrival of the turn's LAST reply. Sender actions (mark_seen, typing_on) are recorded, not counted.

How many replies a turn has is calibrated first: one conversation plays the script one message at a
time (a turn is over when Rasa's tracker ends it), and the Send API counts what arrived. In the measured
runs every customer waits for exactly that many replies before sending the next message, as a person
would; replies still missing after REPLY_TIMEOUT make the message an error. "Turn 200" conversations
are seeded through Rasa's HTTP API with copies of a real conversation's turns (fresh message ids), not
played message by message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.fault_load import Customer, Webhook, WebhookFactory
from bench.rest_throughput import SCRIPT, WARM_UP_CONVERSATIONS, WARM_UP_MESSAGES, ThroughputResult, cycled
from bot.devtools.devstack import ROOT, Ports, Stack, simulator_defaults
from bot.devtools.launcher import prepare_database
from bot.settings import Settings
from bot.simulator.config import SimulatorConfig
from bot.simulator.const import MESSENGER
from bot.simulator.keys import CONFIG_KEY, STATE_KEY
from bot.simulator.send_api import ROUTE as SEND_API_ROUTE
from bot.simulator.send_api import send_message
from bot.simulator.state import SimState
from bot.simulator.validation import kind_of, recipient_of
from bot.simulator.webhooks import new_mid

PORTS = Ports(rasa=5310, actions=5360, simulator=5385, desk=5391)  # no simulator, desk or monitoring run
GRAPH_PORT = 5370
LOG_DIR = ROOT / "var" / "bench"
REPLY_TIMEOUT = 60.0  # seconds a customer waits for a turn's replies before counting it lost
SETTLE = 0.5  # calibration: seconds after the tracker closed a turn, for replies still on their way
WEBHOOK_ATTEMPTS = 3  # Meta delivers a webhook again when it gets no 200
# Concurrent conversations -> messages each (the script over and over): about 300+ messages at 20.
LEVELS = {1: 30, 20: 15, 100: 6}
LONG_TURNS = 200
LONG_CONVERSATIONS = 20
LONG_MESSAGES = 15
REPLICAS_DATABASE = "loom_bench_e2e"  # --replicas: dropped and created afresh for each run
REPLICAS_REDIS_DB = 13  # --replicas: emptied before and after (the fault harness uses 12)
SEED_STEP = 0.01  # seconds between the seeded events' timestamps (the last one just before now)

Progress = Callable[[str], None]
Event = dict[str, Any]  # one of Rasa's tracker events, as its HTTP API gives them


def say(line: str) -> None:
    """Print a progress line at once (long runs must not look stuck behind a pipe's buffer)."""
    print(line, flush=True)


def texts(messages: int) -> list[str]:
    """A customer's messages: the REST benchmark's script, from the start, as often as needed."""
    return cycled(SCRIPT, messages)


def new_psid(rng: random.Random) -> str:
    """A page-scoped id no earlier run used (16 digits, like Meta's)."""
    return str(rng.randrange(10**15, 10**16))


def graph_api_url(port: int) -> str:
    """META_GRAPH_API_URL for a recording Send API on `port`."""
    return f"http://127.0.0.1:{port}/v21.0"


class RecordingSendApi:
    """A fake Graph API Send endpoint: the simulator's checks and answers, with our clock on arrivals.

    The simulator's own handler (`send_api.send_message`) checks and answers each call, so a request
    Meta would refuse is refused here too; `refused` keeps those. The messaging window is opened by
    `note_inbound` before each webhook, as the simulator does when it sends one.
    """

    def __init__(self, port: int = GRAPH_PORT, config: SimulatorConfig | None = None) -> None:
        self.port = port
        self.state = SimState()
        self.replies: dict[str, list[float]] = defaultdict(list)  # recipient -> arrival times (perf_counter)
        self.sender_actions: dict[str, int] = defaultdict(int)
        self.refused: list[dict[str, Any]] = []
        self._arrived: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._app = web.Application()
        self._app[CONFIG_KEY] = config or SimulatorConfig()
        self._app[STATE_KEY] = self.state
        self._app.router.add_post(SEND_API_ROUTE, self._send)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """What META_GRAPH_API_URL must be."""
        return graph_api_url(self.port)

    async def start(self) -> None:
        """Listen on 127.0.0.1:port."""
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _send(self, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()
        response = await send_message(request)
        try:
            body = json.loads(await request.read())  # read once by the handler; aiohttp keeps the bytes
        except ValueError:
            body = None
        recipient = recipient_of(body)
        if response.status != 200 or recipient is None:
            self.refused.append({"status": response.status, "body": body})
        elif kind_of(body) == "message":
            self.replies[recipient].append(arrived)
            self._arrived[recipient].set()
        else:
            self.sender_actions[recipient] += 1
        return response

    def note_inbound(self, psid: str) -> None:
        """The customer just wrote: replies to them are inside Meta's 24 h window."""
        self.state.note_inbound(MESSENGER, psid)

    def count(self, psid: str) -> int:
        """Replies (messages, not sender actions) accepted for `psid` so far."""
        return len(self.replies[psid])

    async def wait_for(self, psid: str, number: int, timeout: float) -> float | None:
        """When the `number`-th reply to `psid` arrived (perf_counter), waiting up to `timeout`, or None."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.count(psid) < number:
            event = self._arrived[psid]
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                return None
        return self.replies[psid][number - 1]


class Messenger:
    """Meta's side: signed webhooks for customers, posted to the Rasa server until it answers 200."""

    def __init__(self, session: aiohttp.ClientSession, rasa_url: str, send_api: RecordingSendApi) -> None:
        self.session = session
        self.rasa_url = rasa_url
        self.send_api = send_api
        self.factory = WebhookFactory(SimulatorConfig())  # the secrets simulator_defaults gives the stack

    async def post(self, psid: str, index: int, text: str) -> Webhook | None:
        """Deliver one message; the webhook, or None when the server never acked it."""
        webhook = self.factory.build(Customer(MESSENGER, psid), index, text)
        self.send_api.note_inbound(psid)
        for attempt in range(WEBHOOK_ATTEMPTS):
            try:
                async with self.session.post(
                    self.rasa_url + webhook.path, data=webhook.raw, headers=webhook.headers
                ) as response:
                    await response.read()
                    if response.status == 200:
                        return webhook
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.5 * (attempt + 1))
        return None


async def turn_done(stack: Stack, psid: str, mid: str, timeout: float = REPLY_TIMEOUT) -> bool:
    """Wait until Rasa's tracker holds message `mid` and ends with action_listen (the turn is saved)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = (await asyncio.to_thread(stack.tracker, psid)).get("events", [])
        mids = [e.get("message_id") for e in events if e.get("event") == "user"]
        if mid in mids and events[-1].get("name") == "action_listen":
            return True
        await asyncio.sleep(0.2)
    return False


async def calibrate(stack: Stack, messenger: Messenger, psid: str, messages: list[str]) -> list[int]:
    """Replies each message gets, played one at a time in conversation `psid`."""
    counts = []
    for index, text in enumerate(messages):
        before = messenger.send_api.count(psid)
        webhook = await messenger.post(psid, index, text)
        if webhook is None or not await turn_done(stack, psid, webhook.mid):
            raise RuntimeError(f"calibration: no answer to {text!r} in conversation {psid}")
        await asyncio.sleep(SETTLE)
        counts.append(messenger.send_api.count(psid) - before)
    if 0 in counts:
        silent = [text for text, count in zip(messages, counts, strict=True) if not count]
        say(f"  warning: calibration found messages without a reply: {silent}")
    return counts


def write_transcript(send_api: RecordingSendApi, psid: str, messages: list[str], counts: list[int]) -> Path:
    """The calibration conversation as text (var/bench/), to set beside stock Rasa's answers."""
    records = send_api.state.sends(MESSENGER, psid)
    sent = [r.body["message"] for r in records if r.accepted and "message" in r.body]
    lines = []
    for text, count in zip(messages, counts, strict=True):
        lines.append(f"> {text}")
        lines += [f"  < {m.get('text') or json.dumps(m.get('attachment'))[:300]}" for m in sent[:count]]
        sent = sent[count:]
    path = LOG_DIR / "project-transcript.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


async def converse(
    messenger: Messenger, psid: str, messages: list[str], replies: list[int], latencies: list[float]
) -> int:
    """One customer: each message after the previous one's last reply; the number of failed messages."""
    send_api, errors = messenger.send_api, 0
    target = send_api.count(psid)
    for index, (text, expected) in enumerate(zip(messages, replies, strict=False)):
        target += expected  # cumulative: a late reply cannot shift the later turns' counts
        started = time.perf_counter()
        if await messenger.post(psid, index, text) is None:
            errors += 1
            continue
        arrived = await send_api.wait_for(psid, target, REPLY_TIMEOUT)
        if arrived is None:
            errors += 1
        else:
            latencies.append(arrived - started)
    return errors


async def measure(
    messenger: Messenger, psids: Sequence[str], messages: list[str], replies: list[int]
) -> ThroughputResult:
    """All `psids` converse at once; messages/s counts messages whose every reply arrived."""
    latencies: list[float] = []
    before = {psid: messenger.send_api.count(psid) for psid in psids}
    started = time.perf_counter()
    errors = await asyncio.gather(*(converse(messenger, p, messages, replies, latencies) for p in psids))
    seconds = time.perf_counter() - started
    await asyncio.sleep(SETTLE)
    expected = sum(replies[: len(messages)]) * len(psids)
    extra = sum(messenger.send_api.count(p) - before[p] for p in psids) - expected
    if extra > 0:
        say(f"  warning: {extra} replies more than calibrated (the bot answered differently)")
    return ThroughputResult(len(psids), len(latencies), seconds, latencies, sum(errors))


# ---------------------------------------------------------------- 200-turn conversations


def is_session_start(event: Event) -> bool:
    """Events that open a session: a seeded conversation keeps only its own."""
    return event.get("event") == "session_started" or event.get("name") == "action_session_start"


def turns_of(events: list[Event]) -> list[list[Event]]:
    """Each customer message with the events that followed it, session starts left out."""
    turns: list[list[Event]] = []
    for event in events:
        if event.get("event") == "user":
            turns.append([event])
        elif turns and not is_session_start(event):
            turns[-1].append(event)
    return turns


def seeded_history(events: list[Event], turns: int, source: str, target: str) -> list[Event]:
    """Conversation `source`'s opening, then `turns` of its turns in a cycle, as `target`'s history.

    Each copied message gets a fresh id (the connector skips a message id its conversation holds);
    the timestamps rise in steps of SEED_STEP up to now, all inside the current session.
    """
    first_user = next(i for i, e in enumerate(events) if e.get("event") == "user")
    cycle = turns_of(events)
    history: list[Event] = []
    for part in [events[:first_user], *(cycle[n % len(cycle)] for n in range(turns))]:
        text = json.dumps(part).replace(source, target)
        if part and part[0].get("event") == "user" and part[0].get("message_id"):
            text = text.replace(part[0]["message_id"], new_mid())
        history += json.loads(text)
    now = time.time()
    for position, event in enumerate(history):
        event["timestamp"] = now - (len(history) - position) * SEED_STEP
    return history


def seed_long(stack: Stack, source: str, target: str, turns: int = LONG_TURNS) -> None:
    """Make conversation `target` (new) hold `turns` customer turns copied from `source`.

    Rasa's `PUT .../tracker/events` sets the whole history at once, with the one session start.
    """
    history = seeded_history(stack.tracker(source)["events"], turns, source, target)
    path = f"/conversations/{urllib.parse.quote(target, safe='')}/tracker"
    stack.rasa_call("PUT", f"{path}/events", history, timeout=300)
    held = stack.tracker(target)["events"]
    users = sum(1 for e in held if e.get("event") == "user")
    starts = sum(1 for e in held if e.get("event") == "session_started")
    stamps = [e.get("timestamp", 0.0) for e in held]
    if users != turns or starts != 1 or stamps != sorted(stamps):
        raise RuntimeError(f"seeding {target}: {users} user turns, {starts} session starts, ordered: "
                           f"{stamps == sorted(stamps)}")  # fmt: skip


# ---------------------------------------------------------------- the project's stack and runs


def project_stack(
    var_dir: Path,
    graph_url: str,
    ports: Ports = PORTS,
    full: bool = False,
    shared: tuple[str, str] | None = None,
    replicas: int = 1,
) -> Stack:
    """`make run`'s stack on the embedded defaults in `var_dir`, its Messenger replies going to `graph_url`.

    `full` also runs the desk and monitoring; they are not on a message's path, so by default they are
    left out (on two cores they would take CPU from the Rasa server that stock Rasa does not pay).
    `shared`: (DATABASE_URL, REDIS_URL) instead of the embedded stores, which `replicas` above 1 need.
    """
    database_url, redis_url = shared if shared else (None, None)
    env: dict[str, str | None] = {
        **simulator_defaults(ports),  # the simulator's public secrets, which the webhooks are signed with
        "META_GRAPH_API_URL": graph_url,
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
    }
    prepare_database(Settings.from_env({key: value for key, value in env.items() if value is not None}))
    return Stack(
        ports, env=env, log_dir=LOG_DIR, simulator=False, desk=full, monitoring=full, rasa_replicas=replicas
    )


@dataclass(frozen=True)
class Plan:
    """What to measure: concurrency levels (conversations -> messages each) and the long conversations."""

    levels: dict[int, int]
    long_conversations: int = LONG_CONVERSATIONS
    long_messages: int = LONG_MESSAGES
    long_turns: int = LONG_TURNS
    seeded: bool = False  # long conversations copied in by Rasa's API (one session) instead of played
    warm_up: bool = True  # the references' unmeasured warm-up load first


# On replicas only what they change is measured: throughput under concurrency.
REPLICAS_PLAN = Plan({20: LEVELS[20], 100: LEVELS[100]}, long_conversations=0)


def shared_stores(stores: ExitStack) -> tuple[str, str]:
    """A fresh PostgreSQL database and an emptied Redis database for replicas, until `stores` closes."""
    from bench import fault_ops

    return (
        stores.enter_context(fault_ops.postgres_database(REPLICAS_DATABASE)),
        stores.enter_context(fault_ops.redis_database(REPLICAS_REDIS_DB)),
    )


async def run_project(
    stack: Stack, send_api: RecordingSendApi, plan: Plan, progress: Progress = say
) -> dict[str, ThroughputResult]:
    """Every project figure, one run after another: `@N` per level, `turn 1` and `turn 200`."""
    rng = random.Random()
    results: dict[str, ThroughputResult] = {}
    longest = max([*plan.levels.values(), plan.long_messages, WARM_UP_MESSAGES])
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        messenger = Messenger(session, stack.rasa_url, send_api)
        source = new_psid(rng)
        progress(f"calibrating: one conversation, {longest} messages one at a time ...")
        fresh = await calibrate(stack, messenger, source, texts(longest))
        transcript = write_transcript(send_api, source, texts(longest), fresh)
        progress(f"  replies per message: {fresh} (transcript: {transcript.relative_to(ROOT)})")
        if plan.warm_up:
            progress(f"warm-up, not measured (as the references): {WARM_UP_CONVERSATIONS} conversations x "
                     f"{WARM_UP_MESSAGES} messages ...")  # fmt: skip
            psids = [new_psid(rng) for _ in range(WARM_UP_CONVERSATIONS)]
            warm_up = await measure(messenger, psids, texts(WARM_UP_MESSAGES), fresh)
            progress(f"  {warm_up.summary()}")
        for conversations, messages in plan.levels.items():
            progress(f"Messenger e2e: {conversations} conversations x {messages} messages ...")
            result = await measure(messenger, [new_psid(rng) for _ in range(conversations)],
                                   texts(messages), fresh)  # fmt: skip
            progress(f"  {result.summary()}")
            results[f"@{conversations}"] = result
        if plan.long_conversations:
            results.update(await turn_1_vs_200(stack, messenger, plan, source, fresh, rng, progress))
    return results


async def turn_1_vs_200(
    stack: Stack,
    messenger: Messenger,
    plan: Plan,
    source: str,
    fresh: list[int],
    rng: random.Random,
    progress: Progress,
) -> dict[str, ThroughputResult]:
    """The same messages in fresh conversations and in conversations already `long_turns` turns long.

    The long ones are played (every earlier message sent through Messenger, so they hold what this
    server keeps of a 200-turn conversation: sessions of SESSION_MAX_MESSAGES), or with `plan.seeded`
    copied in through Rasa's API as one 200-turn session, what a stock Rasa server would hold. Both
    sets run after the long ones exist, so the tracker store holds as many events for each.
    """
    n, messages = plan.long_conversations, texts(plan.long_messages)
    if plan.seeded:
        progress(f"seeding {n + 1} conversations with {plan.long_turns} turns each (copies of {source}) ...")
        long = [new_psid(rng) for _ in range(n + 1)]
        for psid in long:
            await asyncio.to_thread(seed_long, stack, source, psid, plan.long_turns)
        progress("calibrating a seeded conversation ...")
        replies = await calibrate(stack, messenger, long[0], messages)
        long = long[1:]
    else:
        # Played up to a whole number of scripts, so the measured messages are turn 1's, in order.
        played = (plan.long_turns - plan.long_messages) // len(SCRIPT) * len(SCRIPT)
        script = texts(played + plan.long_messages)
        progress(f"calibrating one conversation of {len(script)} messages ...")
        calibrated = await calibrate(stack, messenger, new_psid(rng), script)
        long = [new_psid(rng) for _ in range(n)]
        progress(f"playing {n} conversations to turn {played} ({n * played} messages) ...")
        warm_up = await measure(messenger, long, script[:played], calibrated[:played])
        progress(f"  {warm_up.summary()}")
        replies = calibrated[played:]
    progress(f"  replies per message: {replies}")
    progress(f"turn 1: {n} fresh conversations x {plan.long_messages} messages ...")
    turn_1 = await measure(messenger, [new_psid(rng) for _ in range(n)], messages, fresh)
    progress(f"  {turn_1.summary()}")
    progress(f"turn {plan.long_turns} (about): {n} long conversations x {plan.long_messages} messages ...")
    turn_long = await measure(messenger, long, messages, replies)
    progress(f"  {turn_long.summary()}")
    return {"turn 1": turn_1, f"turn {plan.long_turns}": turn_long}


async def measure_project(
    stack: Stack, plan: Plan, graph_port: int = GRAPH_PORT, progress: Progress = say
) -> tuple[dict[str, ThroughputResult], RecordingSendApi]:
    """Run the plan with a recording Send API on `graph_port` (the stack must point at it)."""
    send_api = RecordingSendApi(graph_port)
    await send_api.start()
    try:
        return await run_project(stack, send_api, plan, progress), send_api
    finally:
        await send_api.stop()


def main() -> None:
    """Start the project's stack, measure, print a line per run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-stack", action="store_true", help="also run the desk and monitoring")
    parser.add_argument("--seeded-long", action="store_true", help="long conversations as one copied session")
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="Rasa replicas sharing a fresh PostgreSQL database and Redis (the horizontal path)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as var_dir, ExitStack() as stores:
        shared = shared_stores(stores) if args.replicas > 1 else None
        stack = project_stack(
            Path(var_dir),
            graph_api_url(GRAPH_PORT),
            full=args.full_stack,
            shared=shared,
            replicas=args.replicas,
        )
        stack.start(progress=lambda line: say(f"  {line}"))
        try:
            plan = REPLICAS_PLAN if args.replicas > 1 else Plan(LEVELS, seeded=args.seeded_long)
            results, send_api = asyncio.run(measure_project(stack, plan))
        finally:
            stack.stop()
    for name, result in results.items():
        print(f"{name}: {result.summary()}")
    print(f"Send API calls refused: {len(send_api.refused)}")


if __name__ == "__main__":
    main()
