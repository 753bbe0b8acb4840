"""What the fault harness does to the stack and how it looks at it: databases, faults, observation.

Every process touched is one this harness started (through `bot.devtools.devstack.Stack`); the PostgreSQL
database and the Redis database index are dedicated to the run, created or emptied at the start and
dropped or emptied at the end.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from bench.fault_judge import PlatformSend, Verdict, judge
from bench.fault_load import Conversation, Customer, Webhook
from bot.devtools.devstack import Ports, Stack, StackError, rasa_service_name
from bot.simulator.const import META_PLATFORMS, TWITTER

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_SERVER = "redis://127.0.0.1:6379"
INJECTED_STATUSES = (429, 500, 502, 503, 504)
MAX_OUTAGE_FACTOR = 5  # an outage lasts until a send met it, at most this many times its length


def block_ports(base: int) -> Ports:
    """One stack's ports in a block of 25 from `base`: Rasa replicas from base (up to 10), then the rest."""
    return Ports(rasa=base, actions=base + 10, simulator=base + 15, desk=base + 20)


@contextmanager
def postgres_database(name: str, admin_url: str = POSTGRES_ADMIN_URL, keep: bool = False) -> Iterator[str]:
    """A fresh database `name` (an old one of that name is dropped first); its URL. Dropped at the end."""
    import psycopg

    def admin(statement: str) -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(statement)

    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        if not keep:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_database(index: int, server: str = REDIS_SERVER, keep: bool = False) -> Iterator[str]:
    """Redis database `index`, emptied (FLUSHDB: that index only) before and after; its URL."""
    import redis

    url = f"{server}/{index}"
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
        yield url
    finally:
        if not keep:
            client.flushdb()
        client.close()


def redis_key_count(url: str) -> int:
    """Keys in the run's Redis database (evidence that the replicas shared it)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        return int(client.dbsize())
    finally:
        client.close()


def stored_events(database_url: str, conversations: Sequence[str]) -> int:
    """Rows of Rasa's SQL tracker store (`events`) for these conversations."""
    import psycopg

    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM events WHERE sender_id = ANY(%s)", (list(conversations),)
        ).fetchone()
    return int(row[0]) if row else 0


# ---- the fake platform ---------------------------------------------------------------------------


async def sim(session: aiohttp.ClientSession, stack: Stack, method: str, path: str, **kwargs: Any) -> Any:
    """Call the simulator's control API; its JSON answer (raises unless 200)."""
    async with session.request(method, f"{stack.simulator_url}{path}", **kwargs) as response:
        response.raise_for_status()
        return await response.json()


async def open_windows(session: aiohttp.ClientSession, stack: Stack, people: Sequence[Customer]) -> None:
    """Tell the fake Graph API these customers just wrote (Meta's 24-hour window).

    The harness posts webhooks to the replicas itself rather than through the simulator, which
    otherwise notes this when it delivers a customer message.
    """
    for customer in people:
        if customer.platform in META_PLATFORMS:
            body = {"platform": customer.platform, "user_id": customer.user_id, "timestamp": time.time()}
            await sim(session, stack, "POST", "/_sim/inbound_time", json=body)


@dataclass(frozen=True)
class SendRecord:
    """A call the fake platform recorded, reduced to what judging needs."""

    platform: str | None
    recipient: str | None
    accepted: bool
    status: int
    text: str | None
    received_at: float
    is_message: bool  # a message to a person (not a sender action, not a media upload)


def send_record(record: dict[str, Any]) -> SendRecord:
    """Read one `/_sim/sends` entry."""
    body = record.get("body") if isinstance(record.get("body"), dict) else {}
    platform = record.get("platform")
    if platform == TWITTER:
        is_message = "/dm_conversations/with/" in (record.get("endpoint") or "")
        text = body.get("text")
    else:
        message = body.get("message")
        is_message = isinstance(message, dict)
        text = message.get("text") if is_message else None
    return SendRecord(
        platform=platform,
        recipient=record.get("recipient_id"),
        accepted=bool(record.get("accepted")),
        status=int(record.get("status") or 0),
        text=text if isinstance(text, str) else None,
        received_at=float(record.get("received_at") or 0.0),
        is_message=is_message,
    )


async def recorded_sends(session: aiohttp.ClientSession, stack: Stack) -> list[SendRecord]:
    """Every call the fake platforms recorded, in arrival order."""
    return [send_record(record) for record in await sim(session, stack, "GET", "/_sim/sends")]


def served_failures(sends: Sequence[SendRecord], status: int, since: float, until: float) -> int:
    """Message sends the fake refused with the injected `status` between `since` and `until`."""
    return sum(
        1
        for s in sends
        if s.is_message and not s.accepted and s.status == status and since <= s.received_at <= until
    )


# ---- faults --------------------------------------------------------------------------------------


@dataclass
class Fault:
    """One fault the harness injected, for the report."""

    kind: str  # replica_kill, action_server_kill, platform_outage, kill_all
    target: str
    started: float  # wall clock
    ended: float | None = None  # back up / outage over
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The report's view: when (epoch seconds, as Rasa's and the simulator's timestamps) and how long."""
        seconds = None if self.ended is None else round(self.ended - self.started, 1)
        return {
            "kind": self.kind,
            "target": self.target,
            "at": self.started,
            "seconds": seconds,
            **self.details,
        }


def kill(stack: Stack, names: Sequence[str], kind: str) -> Fault:
    """SIGKILL these services at once (no grace, as a crash or the OOM killer)."""
    pids = {name: stack.service(name).pid for name in names}
    started = time.time()
    killed = stack.kill(names, signal.SIGKILL)
    codes = {s.name: s.process.returncode if s.process else None for s in killed}
    return Fault(kind, ",".join(names), started, details={"pids": pids, "exit_codes": codes})


async def revive(stack: Stack, fault: Fault, names: Sequence[str]) -> Fault:
    """Start the killed services again (in a thread: Rasa takes a minute) and note when they were ready."""
    await asyncio.to_thread(stack.revive, names)
    fault.ended = time.time()
    fault.details["new_pids"] = {name: stack.service(name).pid for name in names}
    fault.details["restarted"] = all(
        fault.details["new_pids"][n] not in (None, fault.details["pids"][n]) for n in names
    )
    return fault


async def outage(session: aiohttp.ClientSession, stack: Stack, status: int, seconds: float) -> Fault:
    """The fake platform answers `status` to every message send for `seconds`.

    It goes on (up to MAX_OUTAGE_FACTOR times as long) until at least one send met it, so the report
    never claims a fault nothing noticed.
    """
    fault = Fault("platform_outage", f"HTTP {status}", time.time(), details={"status": status})
    await sim(
        session, stack, "POST", "/_sim/fail", json={"status": status, "count": 1_000_000, "kind": "message"}
    )
    give_up = time.monotonic() + seconds * MAX_OUTAGE_FACTOR
    await asyncio.sleep(seconds)
    while time.monotonic() < give_up:
        if served_failures(await recorded_sends(session, stack), status, fault.started, time.time()):
            break
        await asyncio.sleep(0.25)
    await sim(session, stack, "DELETE", "/_sim/fail")
    fault.ended = time.time()
    fault.details["served"] = served_failures(
        await recorded_sends(session, stack), status, fault.started, fault.ended
    )
    return fault


# ---- observation ---------------------------------------------------------------------------------


def live_replica(stack: Stack) -> int:
    """A Rasa replica that runs (they share the tracker store); StackError if none does."""
    for replica in range(1, stack.rasa_replicas + 1):
        if stack.service(rasa_service_name(replica)).alive():
            return replica
    raise StackError("no Rasa replica is running")


def tracker_events(stack: Stack, conversation: str, strict: bool = True) -> list[dict[str, Any]]:
    """The conversation's events through Rasa's HTTP API (blocking; the harness runs it in a thread).

    Not `strict`: no events when the replica asked could not answer (judged again on the next round).
    """
    try:
        return list(stack.tracker(conversation, replica=live_replica(stack)).get("events") or [])
    except (urllib.error.URLError, OSError):
        if strict:
            raise
        return []


def verdicts(
    conversations: Sequence[Conversation],
    events: dict[str, list[dict[str, Any]]],
    sends: Sequence[SendRecord],
    kills: Sequence[float] = (),
) -> list[Verdict]:
    """Judge every conversation from its tracker events and the accepted message sends to it."""
    delivered: dict[str, list[PlatformSend]] = {}
    for s in sends:
        if s.accepted and s.is_message and s.recipient is not None:
            delivered.setdefault(s.recipient, []).append(PlatformSend(s.text or "", s.received_at))
    return [
        judge(
            c.customer.user_id,
            [w.mid for w in c.acked],
            events.get(c.customer.user_id, []),
            delivered.get(c.customer.user_id, []),
            kills,
        )
        for c in conversations
    ]


def kill_times(faults: Sequence[Fault]) -> list[float]:
    """When our processes were SIGKILLed (the crash window of the judge)."""
    return [f.started for f in faults if f.kind in ("replica_kill", "kill_all")]


async def settle(
    session: aiohttp.ClientSession,
    stack: Stack,
    conversations: Sequence[Conversation],
    timeout: float,
    kills: Sequence[float] = (),
) -> tuple[list[Verdict], list[SendRecord], dict[str, list[dict[str, Any]]], float]:
    """Wait (at most `timeout`) until every acked message is answered.

    Returns the final verdicts, the sends, the tracker events by conversation and the seconds waited.
    Each round fetches the sends and the trackers of the conversations not yet complete; the final
    verdicts read every tracker again.
    """
    started = time.monotonic()
    events: dict[str, list[dict[str, Any]]] = {}
    pending = list(conversations)
    while True:
        sends = await recorded_sends(session, stack)
        for c in pending:
            user = c.customer.user_id
            events[user] = await asyncio.to_thread(tracker_events, stack, user, False)
        judged = verdicts(pending, events, sends, kills)
        pending = [c for c, v in zip(pending, judged, strict=True) if v.lost]
        if not pending or time.monotonic() - started > timeout:
            break
        await asyncio.sleep(1.0)
    seconds = time.monotonic() - started
    sends = await recorded_sends(session, stack)
    for c in conversations:
        events[c.customer.user_id] = await asyncio.to_thread(tracker_events, stack, c.customer.user_id)
    return verdicts(conversations, events, sends, kills), sends, events, seconds


def recovery_seconds(
    fault: Fault, webhooks: Sequence[Webhook], judged: Sequence[Verdict], replica: int | None
) -> None:
    """Add to a kill's details what the dead process(es) had in flight, and how long it took to answer it.

    In flight: acked by the killed replica (`replica`; None: by any, for a whole-stack kill) before the
    kill, and not yet a Rasa turn then (no `user` event, or one recorded after the kill: a turn cut
    short is never saved, so it is run again). Messages whose turn ran before the kill are not the
    kill's to lose (a reply lost to a platform outage counts as lost, not here).

    Recovery time: from the kill until the last message in flight was answered; 0 if none was; None if
    one never was.
    """
    answered = {mid: at for v in judged for mid, at in v.answered_at.items()}
    processed = {mid: at for v in judged for mid, at in v.processed_at.items()}
    acked = [
        w.mid
        for w in webhooks
        if (at := (w.acked_at if replica is None else w.acked_by.get(replica))) is not None
        and at <= fault.started
    ]
    in_flight = [mid for mid in acked if processed.get(mid, float("inf")) > fault.started]
    lost = [mid for mid in in_flight if mid not in answered]
    fault.details.update(acked_before=len(acked), in_flight=len(in_flight), lost_of_those=len(lost))
    if lost:
        fault.details["recovery_s"] = None
    else:
        last = max((answered[mid] for mid in in_flight), default=fault.started)
        fault.details["recovery_s"] = round(max(0.0, last - fault.started), 2)


def dump(
    path: Path,
    conversations: Sequence[Conversation],
    sends: Sequence[SendRecord],
    events: dict[str, list[dict[str, Any]]],
) -> None:
    """Everything judged, as JSON, for a post-mortem (`--keep`)."""
    data = {
        "conversations": [
            {
                "id": c.customer.user_id,
                "platform": c.customer.platform,
                "sent": [
                    {"mid": w.mid, "text": w.text, "acked_at": w.acked_at, "acked_by": w.acked_by}
                    for w in c.webhooks
                ],
                "events": [
                    {k: e.get(k) for k in ("event", "timestamp", "text", "message_id", "name")}
                    for e in events.get(c.customer.user_id, [])
                    if e.get("event") in ("user", "bot", "action")
                ],
                "sends": [vars(s) for s in sends if s.recipient == c.customer.user_id],
            }
            for c in conversations
        ]
    }
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
