"""The fault harness's platform side and bookkeeping, without a stack: signing, delivery, sends, recovery."""

from __future__ import annotations

import itertools
import json
import random
import socket

import aiohttp
from aiohttp import web

from bench.fault_judge import Verdict
from bench.fault_load import (
    SCRIPT,
    Customer,
    LoadBalancer,
    Webhook,
    WebhookFactory,
    customers,
    script,
)
from bench.fault_ops import Fault, block_ports, recovery_seconds, send_record, served_failures
from bot.simulator.config import SimulatorConfig
from connectors.security import verify_hub_signature, verify_x_signature

CONFIG = SimulatorConfig()


def test_meta_webhooks_are_signed_and_shaped_as_meta_sends_them():
    webhook = WebhookFactory(CONFIG).build(Customer("instagram", "1234567890123456"), 0, "opening hours?")
    assert webhook.path == "/webhooks/instagram/webhook"
    assert verify_hub_signature(webhook.raw, webhook.headers["X-Hub-Signature-256"], CONFIG.app_secret)
    body = json.loads(webhook.raw)
    [event] = body["entry"][0]["messaging"]
    assert body["object"] == "instagram" and event["sender"] == {"id": "1234567890123456"}
    assert event["message"] == {"mid": webhook.mid, "text": "opening hours?"}


def test_x_direct_messages_are_signed_with_the_consumer_secret():
    factory = WebhookFactory(CONFIG)
    first, second = (factory.build(Customer("twitter", "123456789012"), i, "hello") for i in (0, 1))
    assert verify_x_signature(
        first.raw, first.headers["x-twitter-webhooks-signature"], CONFIG.x_consumer_secret
    )
    [event] = json.loads(first.raw)["direct_message_events"]
    assert event["id"] == first.mid and event["message_create"]["sender_id"] == "123456789012"
    assert first.mid != second.mid and first.mid.isdigit()


def test_customers_cover_every_platform_and_scripts_never_repeat_an_intent_in_a_row():
    people = customers(8, random.Random(1))
    assert {c.platform for c in people} == {"messenger", "instagram", "twitter"}
    assert len({c.user_id for c in people}) == 8
    assert script(3, 20)[:2] == [SCRIPT[3][0], SCRIPT[4][0]] and len(script(3, 20)) == 20
    intents = [intent for _, intent in SCRIPT]
    assert all(a != b for a, b in itertools.pairwise([*intents, intents[0]]))  # three alike would escalate


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_a_webhook_refused_by_one_replica_is_acked_by_the_other():
    received: list[bytes] = []

    async def webhook(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(text="EVENT_RECEIVED")

    app = web.Application()
    app.router.add_post("/webhooks/messenger/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    acks: list[tuple[str, int, bool]] = []
    try:
        async with aiohttp.ClientSession() as session:
            urls = [f"http://127.0.0.1:{closed_port()}", f"http://127.0.0.1:{port}"]
            balancer = LoadBalancer(
                session, urls, deadline=10, on_ack=lambda w, r, f: acks.append((w.mid, r, f))
            )
            hook = WebhookFactory(CONFIG).build(Customer("messenger", "1234567890123456"), 0, "hello")
            assert await balancer.deliver(hook)
            await balancer.redeliver(hook, 2, 0.0)
    finally:
        await runner.cleanup()
    assert [(p.replica, p.status, p.redelivery) for p in balancer.posts] == [
        (1, None, False),
        (2, 200, False),
        (2, 200, True),
    ]
    assert received == [hook.raw, hook.raw]  # the same signed bytes both times
    assert acks == [(hook.mid, 2, True), (hook.mid, 2, False)] and list(hook.acked_by) == [2]


def test_sends_are_read_as_messages_or_not():
    meta = {
        "platform": "messenger",
        "recipient_id": "1",
        "accepted": True,
        "status": 200,
        "received_at": 5,
        "body": {"recipient": {"id": "1"}, "message": {"text": "hi"}},
        "endpoint": "/v21.0/me/messages",
    }
    action = {**meta, "body": {"recipient": {"id": "1"}, "sender_action": "typing_on"}}
    dm = {
        **meta,
        "platform": "twitter",
        "recipient_id": "2",
        "accepted": False,
        "status": 429,
        "received_at": 6,
        "body": {"text": "yo"},
        "endpoint": "/x/2/dm_conversations/with/2/messages",
    }
    upload = {**dm, "recipient_id": None, "endpoint": "/x/2/media/upload", "body": {}}
    records = [send_record(r) for r in (meta, action, dm, upload)]
    assert [(r.is_message, r.text) for r in records] == [
        (True, "hi"),
        (False, None),
        (True, "yo"),
        (False, None),
    ]
    assert served_failures(records, 429, 0, 10) == 1 and served_failures(records, 429, 7, 10) == 0


def test_recovery_is_measured_from_the_kill_to_the_last_answer_of_what_the_dead_replica_had_in_flight():
    def hook(mid: str, replica: int, at: float) -> Webhook:
        return Webhook(
            Customer("messenger", "1"), 0, mid, "", "", b"", {}, acked_at=at, acked_by={replica: at}
        )

    hooks = [
        hook("done", 2, 1.0),  # turn and reply before the kill
        hook("unsent", 2, 2.0),  # turn before the kill, reply lost to something else
        hook("in-flight", 2, 9.0),  # acked, no turn yet when the replica died
        hook("other", 1, 9.5),  # acked by the replica that lived
        hook("after", 2, 20.0),  # acked after the restart
    ]
    fault = Fault("replica_kill", "rasa-2", started=10.0)
    processed = {"done": 1.5, "unsent": 2.5, "in-flight": 14.0, "other": 9.6, "after": 20.5}
    answered = {"done": 2.0, "in-flight": 14.5, "other": 30.0, "after": 21.0}
    recovery_seconds(fault, hooks, [Verdict("1", answered_at=answered, processed_at=processed)], replica=2)
    assert fault.details == {"acked_before": 3, "in_flight": 1, "lost_of_those": 0, "recovery_s": 4.5}

    never = Verdict("1", answered_at={"done": 2.0}, processed_at={"done": 1.5, "unsent": 2.5})
    recovery_seconds(fault, hooks, [never], replica=None)  # a whole-stack kill: every replica's acks
    assert fault.details["in_flight"] == 2 and fault.details["lost_of_those"] == 2
    assert fault.details["recovery_s"] is None
    quiet = Fault("kill_all", "all", started=3.0)
    recovery_seconds(
        quiet, hooks[:1], [Verdict("1", answered_at={"done": 2.0}, processed_at={"done": 1.5})], None
    )
    assert quiet.details["in_flight"] == 0 and quiet.details["recovery_s"] == 0.0


def test_port_blocks_leave_room_for_ten_replicas():
    ports = block_ports(5850)
    assert (ports.rasa, ports.actions, ports.simulator, ports.desk) == (5850, 5860, 5865, 5870)
    assert ports.rasa_replica(10) < ports.actions
