"""Readiness of a service replica (desk, monitoring): its databases answer a query, Redis answers PING.

Each check gets `READY_TIMEOUT` seconds; what failed is named (never how: addresses and errors go to the
log only), so orchestrators and load balancers send work to a replica that can do it.
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


def dependencies(database: Database, trackers: Database) -> dict[str, Database]:
    """The service database, and Rasa's tracker store when it is another database."""
    return (
        {"database": database} if trackers is database else {"database": database, "tracker store": trackers}
    )


class Readiness:
    """The checks behind `GET /readyz`; one small Redis connection pool for them, closed with the app."""

    def __init__(self, service: str, databases: dict[str, Database], redis_url: str | None) -> None:
        self._service = service
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
                logger.warning(
                    "%s not ready: %s unreachable (%s)", self._service, name, type(outcome).__name__
                )
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

    async def close(self, _: web.Application | None = None) -> None:
        """Release the Redis connections (app cleanup, or the service's shutdown)."""
        if self._redis is not None:
            await self._redis.aclose()
