"""The Messenger end-to-end benchmark's harness works against a real stack (no timing is asserted).

One stack (`make run`'s embedded defaults, its Messenger channel pointed at the benchmark's recording
Send API) for the module: calibration counts replies, two conversations play the script once and get
every calibrated reply through requests the simulator's checks accept, and a seeded long conversation
holds its copied turns and still answers.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from bench import timeline_report
from bench.messenger_e2e import (
    Messenger,
    RecordingSendApi,
    calibrate,
    graph_api_url,
    measure,
    new_psid,
    project_stack,
    seed_long,
    texts,
)
from bench.rest_throughput import SCRIPT
from bench.rounds import Load, rounds
from bot.devtools.devstack import Ports, Stack
from bot.timeline import TIMELINE_ENV

OFFSET = int(os.environ.get("E2E_PORT_OFFSET", "0"))  # as tests/e2e: checkouts side by side
PORTS = Ports(5330 + OFFSET, 5331 + OFFSET, 5332 + OFFSET, 5333 + OFFSET)
GRAPH_PORT = 5334 + OFFSET


@pytest.fixture(scope="module")
def timeline_file(tmp_path_factory) -> Path:
    """Where the stack's Rasa server writes its turns' timeline (TURN_TIMELINE)."""
    return tmp_path_factory.mktemp("timeline") / "turns.jsonl"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, timeline_file) -> Iterator[Stack]:
    """The project's stack, sending Messenger replies to GRAPH_PORT, writing a turn timeline."""
    stack = project_stack(tmp_path_factory.mktemp("var"), graph_api_url(GRAPH_PORT), PORTS)
    os.environ[TIMELINE_ENV] = str(timeline_file)  # the stack's processes inherit it
    try:
        stack.start()
    finally:
        del os.environ[TIMELINE_ENV]
    yield stack
    stack.stop()


@pytest.fixture
async def messenger(stack: Stack) -> AsyncIterator[Messenger]:
    """Meta's side of the benchmark with a fresh recording Send API."""
    send_api = RecordingSendApi(GRAPH_PORT)
    await send_api.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            yield Messenger(session, stack.rasa_url, send_api)
    finally:
        await send_api.stop()


async def test_every_message_gets_its_calibrated_replies_through_valid_send_api_calls(stack, messenger):
    rng = random.Random()
    script = texts(len(SCRIPT))
    replies = await calibrate(stack, messenger, new_psid(rng), script)
    assert len(replies) == len(script) and all(count >= 1 for count in replies)

    customers = [new_psid(rng) for _ in range(2)]
    result = await measure(messenger, customers, script, replies)

    assert result.errors == 0 and result.messages == 2 * len(script)
    assert all(latency > 0 for latency in result.latencies)
    send_api = messenger.send_api
    assert send_api.refused == []
    for psid in customers:
        assert send_api.count(psid) == sum(replies)
        assert send_api.sender_actions[psid] >= len(script)  # mark_seen / typing_on, not counted
        sent = [record for record in send_api.state.sends(recipient=psid) if "message" in record.body]
        assert len(sent) == sum(replies)
        assert all(record.accepted and record.response.get("message_id") for record in sent)


async def test_a_seeded_conversation_holds_the_copied_turns_and_still_answers(stack, messenger):
    rng = random.Random()
    source, long = new_psid(rng), new_psid(rng)
    await calibrate(stack, messenger, source, texts(3))

    seed_long(stack, source, long, turns=7)  # raises unless 7 user turns, one session start, in order

    replies = await calibrate(stack, messenger, long, texts(1))
    assert replies[0] >= 1
    assert sum(1 for e in stack.tracker(long)["events"] if e.get("event") == "user") == 8


async def test_rounds_measure_the_same_load_again_on_one_stack(stack, timeline_file, capsys):
    """bench.rounds (make bench-rounds), small: each round's customers get every reply, none is lost.

    The Rasa server wrote every measured turn's stages (TURN_TIMELINE), which the rounds sum up.
    """
    load = Load(conversations=2, messages=3, warm_up_conversations=1, warm_up_messages=2)
    started = time.time()
    results = await rounds(stack, 2, load=load, graph_port=GRAPH_PORT, timeline=timeline_file)
    assert [(r.conversations, r.messages, r.errors) for r in results] == [(2, 6, 0), (2, 6, 0)]

    assert "12 turns; from the webhook's store" in capsys.readouterr().out  # the measured rounds'
    written = timeline_report.read(timeline_file, since=started)  # with calibration and warm-up
    turns = written.turns
    assert turns >= 12
    every_stage = ["fetched", "taken", "quiet", "locked", "tracker", "typing", "parsed", "slots"]
    every_stage += ["predicted", "saved", "handled", "done"]
    assert all(len(written.stages[stage]) == turns for stage in every_stage), dict(written.stages)
    for span in ("nlu_wait", "nlu_batch", "platform_http", "kv_sqlite", "inbox_sql"):
        assert len(written.spans[span]) == turns, span  # each turn waited for these, and said so
