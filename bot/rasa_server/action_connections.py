"""Rasa's calls to the action server over kept-alive connections instead of a new one per call.

Rasa 3.6's `EndpointConfig.request` builds a new aiohttp `ClientSession` for every call, so every
custom action, form validation and slot-mapping action opens a TCP connection, and the action
server's Sanic accepts one, for a single request. In a py-spy profile of the Rasa server at 20
conversations that set-up was about 5% of what the process did (bench/PROFILE.md, fourth round).

`keep_alive(endpoint)` (called for the action endpoint by `bot.rasa_server.action_endpoint`) makes
the endpoint's `session()` hand out one shared session per event loop, whose connections stay open
between calls. Everything else about a call stays Rasa's: `request` still sets the headers (the
secret included), the timeout and compression per call. Idle connections are closed by this side
after KEEPALIVE_SECONDS, before the action server's own limit (Sanic's KEEP_ALIVE_TIMEOUT, 5 s), so
a call never goes out on a connection the server is closing; a connection lost anyway (the action
server restarted) fails as "unreachable" and `bot.rasa_server.action_retry` calls again.

The session also writes the request (the whole session's events and the domain, tens of kilobytes)
with ujson, a C encoder Rasa already depends on, instead of the json module: about half the time, for
what was 5% of the process in the sixth round's profile. ujson 5 writes NaN, infinities, big integers
and lone surrogates as json does (tests/bot/rasa_server/test_action_connections.py); a value it
refuses (bytes, other objects) goes to json, which writes it or raises as before.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from types import TracebackType
from typing import Any

import aiohttp
import ujson

KEEPALIVE_SECONDS = 3.0  # under Sanic's 5 s keep-alive on the action server
CONNECTIONS = 64  # at most this many calls in flight to the action server at once

_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary()
)


def dumps(value: Any) -> str:
    """JSON text of `value`, as json.dumps would parse back; ujson's when it can write it."""
    try:
        return ujson.dumps(value, escape_forward_slashes=False, reject_bytes=True)
    except (TypeError, ValueError, OverflowError):  # refused (bytes, other objects): json's answer
        return json.dumps(value)


class _Borrowed:
    """`async with` for the shared session that, unlike the session's own, leaves it open."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self.session

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        return None


def shared_session() -> _Borrowed:
    """The running event loop's session for the action server (created on first use)."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        connector = aiohttp.TCPConnector(limit=CONNECTIONS, keepalive_timeout=KEEPALIVE_SECONDS)
        session = aiohttp.ClientSession(connector=connector, json_serialize=dumps)
        _sessions[loop] = session
    return _Borrowed(session)


def keep_alive(endpoint: Any) -> None:
    """Route the endpoint's calls through the shared session (with basic auth, Rasa's own keeps it)."""
    if endpoint is None or endpoint.basic_auth or getattr(endpoint, "loom_kept_alive", False):
        return
    endpoint.session = shared_session
    endpoint.loom_kept_alive = True


async def close() -> None:
    """Close this event loop's session and its connections (at server stop)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


def install() -> None:
    """Close the kept connections when the Rasa server stops, with Rasa's own resources (idempotent)."""
    import rasa.core.run

    rasa_close = rasa.core.run.close_resources
    if getattr(rasa_close, "loom_connections", False):
        return

    async def close_resources(app: Any, loop: asyncio.AbstractEventLoop) -> None:
        try:
            await rasa_close(app, loop)
        finally:
            await close()

    close_resources.loom_connections = True  # type: ignore[attr-defined]
    rasa.core.run.close_resources = close_resources
