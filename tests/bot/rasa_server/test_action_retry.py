"""Rasa's calls to the action server are retried while it restarts (runtime A: Rasa's RemoteAction)."""

from __future__ import annotations

import asyncio

import pytest
from rasa.shared.exceptions import RasaException

from bot.rasa_server import action_retry

from ...ports import free_port
from .action_server_stub import CALLS, endpoint_at, run_action, start_action_server

pytestmark = pytest.mark.usefixtures("action_retries")


async def test_a_call_made_while_the_action_server_is_down_succeeds_once_it_is_back():
    port = free_port()
    call = asyncio.create_task(run_action(endpoint_at(port)))
    await asyncio.sleep(0.6)  # refused at least twice
    assert not call.done()
    runner = await start_action_server(port)
    try:
        events = await asyncio.wait_for(call, timeout=10)
    finally:
        await runner.cleanup()
    assert [e.text for e in events if hasattr(e, "text")] == ["Your order shipped."]
    assert runner.app[CALLS] == ["action_order_status"]


async def test_503s_are_retried_until_the_action_runs():
    port = free_port()
    runner = await start_action_server(port, failures=[503, 502])
    try:
        events = await asyncio.wait_for(run_action(endpoint_at(port)), timeout=10)
    finally:
        await runner.cleanup()
    assert [e.text for e in events if hasattr(e, "text")] == ["Your order shipped."]
    assert runner.app[CALLS] == ["action_order_status"] * 3


async def test_a_500_from_the_action_is_final():
    port = free_port()
    runner = await start_action_server(port, failures=[500])
    try:
        with pytest.raises(RasaException):
            await run_action(endpoint_at(port))
        assert runner.app[CALLS] == ["action_order_status"]  # the action's own failure: not retried
    finally:
        await runner.cleanup()


async def test_retries_stop_after_the_budget():
    port = free_port()
    started = asyncio.get_running_loop().time()
    with pytest.raises(RasaException):
        await asyncio.wait_for(run_action(endpoint_at(port)), timeout=30)
    assert 5 <= asyncio.get_running_loop().time() - started <= 12  # kept trying, then gave up near 10 s


@pytest.mark.parametrize("raw", ["soon", "-1", "601"])
def test_a_bad_retry_setting_stops_start_up(raw):
    with pytest.raises(SystemExit, match="ACTION_RETRY_SECONDS"):
        action_retry.retry_seconds({"ACTION_RETRY_SECONDS": raw})
