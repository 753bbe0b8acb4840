"""Liveness and readiness of a desk replica, for Compose, Kubernetes and load balancers.

`GET /health` is liveness: the process answers, nothing else is checked, so a database outage never
makes an orchestrator restart every desk replica at once. `GET /readyz` is readiness
(bot/readiness.py): the database answers a query and, when `REDIS_URL` is set, Redis answers PING, each
within `READY_TIMEOUT` seconds; otherwise 503 naming what failed, so agents are sent to a replica that
can serve them.
"""

from __future__ import annotations

from aiohttp import web

from bot.readiness import READY_TIMEOUT, Readiness, dependencies
from bot.storage.db import Database

__all__ = ["READY_TIMEOUT", "register"]


def register(app: web.Application, database: Database, trackers: Database, redis_url: str | None) -> None:
    """Add `GET /readyz` to the desk."""
    readiness = Readiness("desk", dependencies(database, trackers), redis_url)
    app.router.add_get("/readyz", readiness.handler)
    app.on_cleanup.append(readiness.close)
