"""Liveness and readiness of a desk replica, for Compose, Kubernetes and load balancers.

`GET /health` is liveness: the process answers, nothing else is checked, so a database outage never
makes an orchestrator restart every desk replica at once. `GET /readyz` is readiness: the database
answers a query and, when `REDIS_URL` is set, Redis answers PING, each within `READY_TIMEOUT` seconds;
otherwise 503 naming what failed (never how: addresses and errors go to the log only), so agents are
sent to a replica that can serve them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from sqlalchemy import text

from bot.storage.db import Database

logger = logging.getLogger(__name__)
READY_TIMEOUT = 2.0  # seconds per check; probes come every few seconds and must not pile up


class Readiness:
    """The checks behind `GET /readyz`; one small Redis connection pool for them, closed with the app."""

    def __init__(self, databases: dict[str, Database], redis_url: str | None) -> None:
        self._databases = databases
        self._redis_url = redis_url
        self._redis: Any = None

    async def problems(self) -> list[str]:
        """What cannot be reached now: `database`, `tracker store`, `redis`."""
        checks = {name: self._query(database) for name, database in self._databases.items()}
        if self._redis_url:
            checks["redis"] = self._ping()
        names = list(checks)
        outcomes = await asyncio.gather(
            *(asyncio.wait_for(check, READY_TIMEOUT) for check in checks.values()), return_exceptions=True
        )
        failed = []
        for name, outcome in zip(names, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                logger.warning("desk not ready: %s unreachable (%s)", name, type(outcome).__name__)
                failed.append(name)
        return failed

    async def _query(self, database: Database) -> None:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def _ping(self) -> None:
        if self._redis is None:
            from redis import asyncio as aioredis

            self._redis = aioredis.from_url(
                self._redis_url, socket_connect_timeout=READY_TIMEOUT, socket_timeout=READY_TIMEOUT
            )
        await self._redis.ping()

    async def handler(self, _: web.Request) -> web.Response:
        """200 when every dependency answered, else 503 with the names of those that did not."""
        failed = await self.problems()
        if failed:
            return web.json_response({"status": "unavailable", "problems": failed}, status=503)
        return web.json_response({"status": "ready"})

    async def close(self, _: web.Application) -> None:
        """Release the Redis connections (app cleanup)."""
        if self._redis is not None:
            await self._redis.aclose()


def register(app: web.Application, database: Database, trackers: Database, redis_url: str | None) -> None:
    """Add `GET /readyz` to the desk."""
    databases = {"database": database}
    if trackers is not database:
        databases["tracker store"] = trackers
    readiness = Readiness(databases, redis_url)
    app.router.add_get("/readyz", readiness.handler)
    app.on_cleanup.append(readiness.close)
