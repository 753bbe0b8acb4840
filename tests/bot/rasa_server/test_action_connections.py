"""Rasa's calls to the action server reuse their connections (runtime A: Rasa's RemoteAction, real HTTP)."""

from __future__ import annotations

import asyncio

import pytest
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_server import action_connections
from bot.rasa_server.action_endpoint import configure

from ...ports import free_port
from .action_server_stub import CALLS, PEERS, endpoint_at, run_action, start_action_server

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
