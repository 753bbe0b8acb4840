"""The desk's Prometheus metrics: `GET /metrics`, a middleware that counts and times requests.

Tickets waiting and assigned are counted in the database at scrape time (one grouped query), so every
desk replica reports the same numbers: aggregate them with `max`, not `sum`. Requests, live-update
clients and agent replies are this process's own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.conversations.rasa_api import DeliveryError
from bot.handoff.tickets import ACTIVE
from bot.metrics import (
    CHALLENGE,
    LATENCY_BUCKETS,
    PREFIX,
    exposition,
    new_registry,
    refusal,
)
from bot.storage.db import Database
from bot.storage.models import HandoffTicket

logger = logging.getLogger(__name__)
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STREAM = "/stream"  # server-sent events: a request that lasts as long as the page is open

REGISTRY = new_registry()
REQUESTS = Counter(
    f"{PREFIX}desk_http_requests",
    "HTTP requests by method, route (its pattern, or `unmatched`) and status (499: the client left)",
    ("method", "route", "status"),
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    f"{PREFIX}desk_http_request_seconds",
    "Time to answer an HTTP request (live-update streams excluded)",
    ("method", "route"),
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
SSE_CLIENTS = Gauge(
    f"{PREFIX}desk_sse_clients", "Open live-update streams (server-sent events)", registry=REGISTRY
)
AGENT_REPLIES = Counter(
    f"{PREFIX}desk_agent_replies",
    "Agent replies handed to the conversation's channel, by result (sent, failed)",
    ("result",),
    registry=REGISTRY,
)
AUTO_ASSIGNED = Counter(
    f"{PREFIX}desk_auto_assignments",
    "Queued conversations the assigner gave to an online agent (only the lease holder counts)",
    registry=REGISTRY,
)
SLA_RAISES = Counter(
    f"{PREFIX}desk_sla_breaches",
    "SLA breaches that raised a ticket's priority, by timer (first_response, next_response)",
    ("timer",),
    registry=REGISTRY,
)
TICKETS = Gauge(
    f"{PREFIX}desk_tickets",
    "Handoff tickets waiting in the queue (open) or owned by a person (assigned), at scrape time",
    ("status",),
    registry=REGISTRY,
)


def route_of(request: web.Request) -> str:
    """The route's pattern (`/tickets/{ticket_id}`), never the raw path: labels must stay few."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every request by route and status; time it, unless it is a live-update stream."""
    route, started, status = route_of(request), time.perf_counter(), 500
    streaming = route == STREAM
    if streaming:
        SSE_CLIENTS.inc()
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as err:  # redirects and refusals are raised in aiohttp
        status = err.status
        raise
    except asyncio.CancelledError:
        status = 499
        raise
    finally:
        if streaming:
            SSE_CLIENTS.dec()
        else:
            REQUEST_SECONDS.labels(request.method, route).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, route, str(status)).inc()


async def counted_reply(sending: Awaitable[T]) -> T:
    """An agent's reply, counted as sent or (when the channel refused it) failed."""
    try:
        result = await sending
    except DeliveryError:
        AGENT_REPLIES.labels("failed").inc()
        raise
    AGENT_REPLIES.labels("sent").inc()
    return result


async def count_tickets(database: Database) -> None:
    """Set the ticket gauges from the database; on failure drop them rather than show stale numbers."""
    query = (
        select(HandoffTicket.status, func.count())
        .where(HandoffTicket.status.in_(ACTIVE))
        .group_by(HandoffTicket.status)
    )
    try:
        async with database.sessions() as session:
            counts = dict((await session.execute(query)).tuples().all())
    except (SQLAlchemyError, OSError) as err:
        logger.warning("desk metrics: tickets not counted: %s", err)
        TICKETS.clear()
        return
    for status in ACTIVE:
        TICKETS.labels(status).set(counts.get(status, 0))


def metrics_handler(database: Database, token: str | None) -> Handler:
    """`GET /metrics`, for Prometheus rather than people: no sign-in, METRICS_TOKEN's bearer (403 unset)."""

    async def metrics(request: web.Request) -> web.Response:
        if refused := refusal(request.headers.get("Authorization"), token):
            return web.Response(status=refused[0], text=refused[1], headers=CHALLENGE)
        await count_tickets(database)
        body, content_type = exposition(REGISTRY, request.headers.get("Accept"))
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type  # with its version, which aiohttp would refuse
        return response

    return metrics
