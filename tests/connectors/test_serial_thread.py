"""Blocking calls in one thread, those that queue together in one hand-over (connectors/serial_thread.py)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from connectors.serial_thread import SerialThread


@pytest.fixture
def serial():
    thread = SerialThread("test-serial")
    yield thread
    thread.shutdown()


async def test_calls_queued_together_run_in_one_hand_over_in_order_in_one_thread(serial):
    ran: list[tuple[int, str]] = []

    def call(number: int):
        def run() -> int:
            ran.append((number, threading.current_thread().name))
            time.sleep(0.002)
            return number * 10

        return run

    blocker = asyncio.ensure_future(serial.run(lambda: time.sleep(0.1)))
    await asyncio.sleep(0.02)  # the thread is busy: the next calls queue
    results = await asyncio.gather(*(serial.run(call(n)) for n in range(20)))
    await blocker
    assert results == [n * 10 for n in range(20)]
    assert [number for number, _ in ran] == list(range(20))
    assert {name for _, name in ran} == {ran[0][1]} and ran[0][1].startswith("test-serial")
    assert ran[0][1] != threading.current_thread().name


async def test_calls_queued_while_the_thread_is_busy_share_its_next_hand_over(serial, monkeypatch):
    from connectors import serial_thread

    batches: list[int] = []
    original = serial_thread._run_all

    def counted(calls):
        batches.append(len(calls))
        return original(calls)

    monkeypatch.setattr(serial_thread, "_run_all", counted)
    first = asyncio.ensure_future(serial.run(lambda: time.sleep(0.1)))
    await asyncio.sleep(0.02)
    await asyncio.gather(*(serial.run(lambda: None) for _ in range(12)), first)
    assert batches == [1, 12]


async def test_a_failing_call_fails_only_its_caller(serial):
    def boom() -> None:
        raise ValueError("bad row")

    outcomes = await asyncio.gather(
        serial.run(lambda: 1), serial.run(boom), serial.run(lambda: 3), return_exceptions=True
    )
    assert outcomes[0] == 1 and outcomes[2] == 3
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "bad row"
    assert await serial.run(lambda: "still working") == "still working"


async def test_a_cancelled_caller_does_not_stop_the_others(serial):
    release = threading.Event()
    blocked = asyncio.ensure_future(serial.run(release.wait))
    cancelled = asyncio.ensure_future(serial.run(lambda: "not read"))
    kept = asyncio.ensure_future(serial.run(lambda: "read"))
    await asyncio.sleep(0.02)
    cancelled.cancel()
    release.set()
    assert await blocked is True
    assert await kept == "read"
    with pytest.raises(asyncio.CancelledError):
        await cancelled


def test_one_thread_serves_several_event_loops(serial):
    assert asyncio.run(serial.run(lambda: "first loop")) == "first loop"
    assert asyncio.run(serial.run(lambda: "second loop")) == "second loop"
