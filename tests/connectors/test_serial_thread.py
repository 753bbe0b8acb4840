"""Blocking calls in one thread, those that queue together in one hand-over (connectors/serial_thread.py)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from connectors.serial_thread import Busy, SerialThread


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


async def test_an_inline_call_runs_in_the_loops_thread_while_the_thread_is_idle(serial):
    here = threading.current_thread().name
    assert await serial.run(threading.current_thread, lambda: threading.current_thread().name) == here


async def test_a_busy_inline_call_goes_to_the_thread(serial):
    def busy() -> str:
        raise Busy

    name = await serial.run(lambda: threading.current_thread().name, busy)
    assert name.startswith("test-serial")


async def test_inline_calls_wait_their_turn_behind_queued_ones(serial):
    order: list[str] = []
    release = threading.Event()
    queued = asyncio.ensure_future(serial.run(lambda: (release.wait(), order.append("queued"))))
    await asyncio.sleep(0.02)
    later = asyncio.ensure_future(
        serial.run(lambda: order.append("later, thread"), lambda: order.append("inline"))
    )
    await asyncio.sleep(0.02)
    release.set()
    await asyncio.gather(queued, later)
    assert order == ["queued", "later, thread"]


async def test_a_slow_inline_call_sends_the_next_ones_to_the_thread_for_a_while(serial, caplog):
    from connectors import serial_thread

    caplog.set_level(logging.INFO, logger="connectors.serial_thread")
    threads: list[str] = []

    def inline(seconds: float):
        def run() -> None:
            threads.append("inline")
            time.sleep(seconds)

        return run

    # One slow call among quick ones (the GIL, a collection) is not a slow disk...
    await serial.run(lambda: threads.append("thread"), inline(serial_thread.INLINE_BUDGET * 2))
    for _ in range(5):
        await serial.run(lambda: threads.append("thread"), inline(0))
    assert threads == ["inline"] * 6
    # ... calls slow on average are.
    while threads[-1] == "inline":
        await serial.run(lambda: threads.append("thread"), inline(serial_thread.INLINE_BUDGET * 3))
    assert threads.count("inline") < 20 and threads[-1] == "thread"
    await serial.run(lambda: threads.append("thread"), inline(0))
    assert threads[-2:] == ["thread", "thread"]  # for a while
    assert "for 30 s they go to its thread" in caplog.text


async def test_an_inline_call_that_fails_fails_its_caller(serial):
    def boom() -> None:
        raise ValueError("bad statement")

    with pytest.raises(ValueError, match="bad statement"):
        await serial.run(lambda: "the thread would have succeeded", boom)
