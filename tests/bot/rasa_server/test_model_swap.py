"""`PUT /model` loads beside the serving model: the loop keeps serving, bad files are refused with the reason.

Rasa's own app (`rasa.server.create_app`, JWT auth, endpoints.yml's stores on a SQLite file of this
module's) with the trained model, served on a free port in this test's event loop, so a ticker in the
same loop sees every stall the swap causes.
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rasa.core.agent import Agent, load_agent
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

from bot.conversations.api_auth import api_headers
from bot.rasa_server import gc_freeze, model_swap
from bot.settings import PROJECT_ROOT

from ...model_archives import corrupt, repack
from ...ports import free_port

pytestmark = [pytest.mark.model, pytest.mark.slow]

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
SECRET = "test-model-swap-secret"
MAX_STALL = 0.5  # seconds; Rasa's own route stops the loop for the whole load (bench/model_swap_stall.py)


class Ticker:
    """Wakes every 10 ms in the loop and keeps the worst lateness: the loop's longest stall."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> Ticker:
        self.task = asyncio.get_running_loop().create_task(self.run())
        await asyncio.sleep(0.05)  # ticking before what is measured starts
        return self

    async def run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - before - 0.01)

    async def stop(self) -> float:
        await asyncio.sleep(0.02)  # a tick due during a stall wakes now and counts it
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        return self.worst


@dataclass
class Served:
    app: Any
    url: str

    @property
    def agent(self) -> Agent:
        return self.app.ctx.agent

    async def put_model(self, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        headers = api_headers(SECRET, "test") if headers is None else headers
        async with (
            aiohttp.ClientSession() as session,
            session.put(f"{self.url}/model", json=body, headers=headers) as answer,
        ):
            return answer.status, (await answer.json() if answer.status != 204 else None)

    async def status(self) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.url}/status", headers=api_headers(SECRET, "test")) as answer,
        ):
            assert answer.status == 200
            return await answer.json()


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> Iterator[Path]:
    """endpoints.yml's stores: the tracker store in this module's own SQLite file, locks in memory."""
    var_dir = tmp_path_factory.mktemp("var")
    saved = {name: os.environ.get(name) for name in ("VAR_DIR", "DATABASE_URL", "REDIS_URL")}
    os.environ.update(VAR_DIR=str(var_dir))
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    yield var_dir
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
async def served(environment) -> AsyncIterator[Served]:
    """Rasa's app as `python -m bot.rasa_server` builds it (these two changes installed), model loaded."""
    import rasa.server

    rasa_create_app, rasa_load_model = rasa.server.create_app, Agent.load_model
    # Sanic rewrites its HTTP classes' methods for each app it starts (sanic/touchup); in test mode it
    # keeps the originals aside, so the apps later tests of this process build start from them again.
    test_mode, Sanic.test_mode = Sanic.test_mode, True
    model_swap.install()
    gc_freeze.install()
    try:
        endpoints = AvailableEndpoints.read_endpoints(str(PROJECT_ROOT / "endpoints.yml"))
        app = rasa.server.create_app(jwt_secret=SECRET, jwt_method="HS256", endpoints=endpoints)
        app.ctx.agent = await load_agent(model_path=str(MODEL), endpoints=endpoints)
        port = free_port()
        server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
        await server.startup()
        try:
            yield Served(app, f"http://127.0.0.1:{port}")
        finally:
            server.close()
            await server.wait_closed()
    finally:
        rasa.server.create_app, Agent.load_model = rasa_create_app, rasa_load_model
        Sanic.test_mode = test_mode


async def test_a_file_that_does_not_load_is_refused_with_the_reason_and_the_old_model_serves(
    served, tmp_path
):
    serving, before = served.agent, await served.status()
    broken = corrupt(tmp_path / "broken.tar.gz")

    status, answer = await served.put_model({"model_file": str(broken)})
    assert status == 400
    assert "was not loaded" in answer["message"] and "can not be loaded" in answer["message"]
    assert before["model_id"] in answer["message"]  # what still serves
    status, answer = await served.put_model({"model_file": str(tmp_path / "missing.tar.gz")})
    assert status == 400 and "no such file" in answer["message"]

    assert served.agent is serving and await served.status() == before
    parsed = await served.agent.parse_message("hello")
    assert parsed["intent"]["name"]


async def test_the_route_keeps_rasas_authentication(served, tmp_path):
    status, _ = await served.put_model({"model_file": str(MODEL)}, headers={})
    assert status == 401
    status, _ = await served.put_model({"model_file": str(MODEL)}, headers=api_headers("another secret"))
    assert status == 401


async def test_a_swap_serves_the_new_model_keeps_conversations_and_never_stalls_the_loop(served, tmp_path):
    old = served.agent
    tracker = DialogueStateTracker.from_events(
        "swap-test",
        [UserUttered("hi", {"name": "greet", "confidence": 1.0}), SlotSet("email", "a@b.example")],
    )
    await old.tracker_store.save(tracker)
    old_locks, old_store = old.lock_store, model_swap.innermost(old.tracker_store)
    gone = weakref.ref(old.processor)
    del old  # from here only the server holds it, until it lets it go
    candidate = tmp_path / "candidate.tar.gz"
    model_id = repack(MODEL, candidate)
    served.app.ctx.loom_model_swapper.release_after = 2.0

    ticker = await Ticker().start()
    started = time.perf_counter()
    status, _ = await served.put_model({"model_file": str(candidate)})
    seconds, stall = time.perf_counter() - started, await ticker.stop()
    assert status == 204
    ticker = await Ticker().start()
    new = served.agent
    assert (await served.status())["model_id"] == model_id and new.model_id == model_id
    assert stall < MAX_STALL, f"the event loop stopped for {stall:.2f} s during the swap"

    # One lock store for both (a conversation's turns never overlap across the switch), one event
    # broker; a tracker store of its own on the same database, so the conversation is still there.
    assert new.lock_store is old_locks and new.processor.lock_store is old_locks
    new_store = model_swap.innermost(new.tracker_store)
    assert new_store is not old_store and new_store.event_broker is old_store.event_broker
    assert str(new_store.engine.url) == str(old_store.engine.url)
    assert (await new.tracker_store.retrieve("swap-test")).get_slot("email") == "a@b.example"
    assert await served.put_model({"model_file": str(candidate)}) == (204, None)  # served already
    assert served.agent is new

    # After its grace period nothing holds the old model any more (its store's connections closed).
    await asyncio.wait_for(served.app.ctx.loom_model_swapper.released(), 120)
    release = await ticker.stop()
    assert gone() is None
    assert old_store.engine.pool.checkedout() == 0
    print(f"\nswap {seconds:.1f} s, worst loop stall {stall:.3f} s; old model let go {release:.3f} s")
