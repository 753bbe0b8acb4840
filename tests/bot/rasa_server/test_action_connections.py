"""Rasa's calls to the action server reuse their connections (runtime A: Rasa's RemoteAction, real HTTP)."""

from __future__ import annotations

import asyncio
import json
import math

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_server import action_connections
from bot.rasa_server.action_endpoint import configure

from ...ports import free_port
from .action_server_stub import BODIES, CALLS, DOMAIN, PEERS, endpoint_at, run_action, start_action_server

pytestmark = pytest.mark.usefixtures("action_retries")


def texts(events: list) -> list[str]:
    return [e.text for e in events if hasattr(e, "text")]


async def test_calls_share_one_connection_and_send_the_secret_each_time():
    port = free_port()
    runner = await start_action_server(port)
    endpoint = endpoint_at(port)
    configure(endpoint, {"ACTION_SERVER_TOKEN": "s3cret"})
    try:
        results = [await run_action(endpoint) for _ in range(3)]
    finally:
        await runner.cleanup()
    assert [texts(events) for events in results] == [["Your order shipped."]] * 3
    assert runner.app[CALLS] == ["action_order_status"] * 3
    assert len(set(runner.app[PEERS])) == 1  # one client port: the same TCP connection


async def test_rasa_alone_opens_a_connection_per_call():
    """What the change is for: without it each call comes from a new client port."""
    port = free_port()
    runner = await start_action_server(port)
    try:
        for _ in range(3):
            await run_action(endpoint_at(port))
    finally:
        await runner.cleanup()
    assert len(set(runner.app[PEERS])) == 3


async def test_a_call_after_the_action_server_restarted_goes_through():
    port = free_port()
    endpoint = endpoint_at(port)
    configure(endpoint, {"ACTION_SERVER_TOKEN": "s3cret"})
    runner = await start_action_server(port)
    try:
        await run_action(endpoint)
    finally:
        await runner.cleanup()  # the kept connection is closed by the server
    runner = await start_action_server(port)
    try:
        events = await asyncio.wait_for(run_action(endpoint), timeout=10)
    finally:
        await runner.cleanup()
    assert texts(events) == ["Your order shipped."]
    assert runner.app[CALLS] == ["action_order_status"]  # the new server ran it once


async def test_basic_auth_keeps_rasas_own_session():
    endpoint = EndpointConfig("http://127.0.0.1:1/webhook", basic_auth={"username": "u", "password": "p"})
    action_connections.keep_alive(endpoint)
    assert not getattr(endpoint, "loom_kept_alive", False)
    assert "session" not in vars(endpoint)


def conversation() -> DialogueStateTracker:
    """A session with what a real one carries: non-ASCII text, a slash, emoji, NLU confidences."""
    parse = {
        "intent": {"name": "order_status", "confidence": 0.873_412_9},
        "entities": [{"entity": "order_number", "value": "104523", "start": 22, "end": 28}],
        "text": "où est ma commande 😀 #104523 / merci",
        "intent_ranking": [{"name": "order_status", "confidence": 1 / 3}],
    }
    events = [
        ActionExecuted("action_listen"),
        UserUttered(parse["text"], parse["intent"], parse["entities"], parse),
    ]
    return DialogueStateTracker.from_events("c-ujson", [*events, SlotSet("order_state", None)], DOMAIN.slots)


async def test_the_request_is_written_by_ujson_and_reads_back_as_rasas_own_payload():
    port = free_port()
    runner = await start_action_server(port)
    endpoint = endpoint_at(port)
    configure(endpoint, {"ACTION_SERVER_TOKEN": "s3cret"})
    tracker = conversation()
    action = RemoteAction("action_order_status", endpoint)
    try:
        nlg = TemplatedNaturalLanguageGenerator({})
        await action.run(CollectingOutputChannel(), nlg, tracker, DOMAIN)
    finally:
        await runner.cleanup()
    [sent] = runner.app[BODIES]
    expected = json.loads(json.dumps(action._action_call_format(tracker, DOMAIN)))
    assert json.loads(sent) == expected
    assert sent.startswith(b'{"next_action":"action_order_status"')  # ujson's compact form, not json's
    assert b"#104523 / merci" in sent  # the slash not escaped (ujson's default), as json writes it
    assert "0.8734129" in sent.decode() and "0.3333333333333333" in sent.decode()  # floats round-trip


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), 2**70, "x\ud800y", {"a": [1.5, None, True, "x/y"]}]
)
def test_values_at_jsons_edges_read_back_as_json_writes_them(value):
    written = action_connections.dumps(value)
    back, expected = json.loads(written), json.loads(json.dumps(value))
    assert back == expected or (math.isnan(back) and math.isnan(expected))


def test_what_ujson_refuses_gets_jsons_own_answer():
    with pytest.raises(TypeError, match="bytes is not JSON serializable"):
        action_connections.dumps({"body": b"raw"})
