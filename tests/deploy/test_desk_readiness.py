"""The desk's `GET /readyz` follows PostgreSQL and Redis; `GET /health` (liveness) does not.

The desk app runs on a real port with its own connections, as in production, but it reaches PostgreSQL
and Redis through TCP proxies this test controls: cut (every connection reset, nothing listening) or a
black hole (connections accepted, nothing ever answered, as when packets are dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.desk.app import create_app
from bot.desk.config import DeskConfig
from bot.desk.health import READY_TIMEOUT
from bot.settings import Settings

from .conftest import port


class TcpProxy:
    """Forwards 127.0.0.1:`listen` to `target`; the test can cut it or make it a black hole."""

    def __init__(self, listen: int, target_host: str, target_port: int) -> None:
        self.listen = listen
        self.target = (target_host, target_port)
        self.black_hole = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.listen)

    async def cut(self) -> None:
        """Stop listening and reset every open connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self.black_hole:
            with contextlib.suppress(Exception):
                while await reader.read(65536):
                    pass  # swallow what the client says and never answer
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(upstream_writer)
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()


def through(url: str, proxy: TcpProxy) -> str:
    """`url` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{credentials}127.0.0.1:{proxy.listen}"))


@pytest.fixture
async def proxies(migrated_database, redis_url) -> AsyncIterator[tuple[TcpProxy, TcpProxy]]:
    """A proxy in front of the test PostgreSQL server and one in front of the test Redis."""
    database, redis = urlsplit(migrated_database), urlsplit(redis_url)
    pair = (
        TcpProxy(port(5732), database.hostname or "127.0.0.1", database.port or 5432),
        TcpProxy(port(5779), redis.hostname or "127.0.0.1", redis.port or 6379),
    )
    for proxy in pair:
        await proxy.start()
    yield pair
    for proxy in pair:
        await proxy.cut()


@pytest.fixture
async def desk(proxies, migrated_database, redis_url, tmp_path) -> AsyncIterator[str]:
    """The desk app on a real port, opening its own database and Redis connections through the proxies."""
    database_proxy, redis_proxy = proxies
    database_url = through(migrated_database, database_proxy)
    settings = Settings(
        database_url=database_url,
        redis_url=through(redis_url, redis_proxy),
        var_dir=str(tmp_path),
        trackers_url=database_url,  # Rasa's events are in the same database
    )
    config = DeskConfig(settings=settings, rasa_url="http://127.0.0.1:9")
    async with TestServer(create_app(config), port=port(5791)) as server:
        yield str(server.make_url(""))


async def readiness(base: str) -> tuple[int, dict, float]:
    """Status, JSON body and seconds taken by `GET /readyz` (no session: probes do not sign in)."""
    started = time.monotonic()
    async with ClientSession() as client, client.get(f"{base}/readyz") as answer:
        return answer.status, await answer.json(), time.monotonic() - started


async def liveness(base: str) -> int:
    async with ClientSession() as client, client.get(f"{base}/health") as answer:
        return answer.status


async def test_readyz_is_503_while_postgresql_is_unreachable_and_health_stays_200(desk, proxies):
    database_proxy, _ = proxies
    assert (await readiness(desk))[:2] == (200, {"status": "ready"})

    await database_proxy.cut()
    status, body, seconds = await readiness(desk)
    assert (status, body) == (503, {"status": "unavailable", "problems": ["database"]})
    assert seconds < READY_TIMEOUT + 1.5
    assert await liveness(desk) == 200  # an orchestrator must not restart the desk for this

    database_proxy.black_hole = True  # connections accepted, never answered: the probe must not hang
    await database_proxy.start()
    status, body, seconds = await readiness(desk)
    assert (status, body["problems"]) == (503, ["database"])
    assert READY_TIMEOUT - 0.5 < seconds < READY_TIMEOUT + 1.5

    await database_proxy.cut()
    database_proxy.black_hole = False
    await database_proxy.start()
    assert (await readiness(desk))[:2] == (200, {"status": "ready"})


async def test_readyz_is_503_while_redis_is_unreachable(desk, proxies):
    _, redis_proxy = proxies
    assert (await readiness(desk))[0] == 200

    await redis_proxy.cut()
    status, body, seconds = await readiness(desk)
    assert (status, body) == (503, {"status": "unavailable", "problems": ["redis"]})
    assert seconds < READY_TIMEOUT + 1.5
    assert await liveness(desk) == 200

    await redis_proxy.start()
    assert (await readiness(desk))[0] == 200
