"""Serve the action server in this process, and let SIGTERM stop it cleanly at any moment.

Compose and Kubernetes stop a container with SIGTERM, then SIGKILL after a grace period; the server
must stop listening, finish the action calls in progress, and exit 0 well within it. What Sanic 25.12
does on its own, and what is different here (each case is a test in tests/deploy/test_shutdown.py):
- its worker manager spins for ever when SIGTERM arrives before it has seen its worker's start-up
  acknowledgement: we serve in this process (`Sanic.serve_single`), one worker being our default;
- it installs its SIGTERM handler only once it listens (a SIGTERM before that killed the process, or
  was ignored as PID 1), and that handler has no effect while the after-start listeners run (the
  server then ran on): a SIGTERM before Sanic's handler is remembered, ours replaces Sanic's in an
  after-start listener, and the server is stopped once it runs. Only a SIGTERM in the instant
  between the two handlers is still missed (the orchestrator SIGKILLs after its grace period; nothing
  was in flight yet);
- a keep-alive connection whose call was in flight stays open after the answer (Sanic closes only the
  connections idle when it stops), and the shutdown waited its whole grace period (15 s) for it: once
  stopping, answers carry `Connection: close`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)


def serve_in_process(app: Sanic, host: str, port: int, ssl: Any = None) -> None:
    """Serve `app` until SIGTERM (or SIGINT), then drain and return."""
    app.ctx.loom_stopping = False
    early: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: early.append(signum))  # until `after_start`

    async def after_start(app: Sanic) -> None:
        asked = asyncio.Event()
        if early:
            asked.set()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, asked.set)  # in place of Sanic's from now on
        # Kept on ctx (a task nobody holds may be garbage-collected); not an app task: Sanic cancels those.
        app.ctx.loom_stopper = loop.create_task(stop_when_asked(app, asked))

    async def close_when_stopping(request: Request, response: HTTPResponse) -> None:
        if app.ctx.loom_stopping and request.stream is not None:
            request.stream.keep_alive = False

    app.register_listener(after_start, "after_server_start")
    app.register_middleware(close_when_stopping, "response")
    app.prepare(host=host, port=port, ssl=ssl, single_process=True)
    Sanic.serve_single(primary=app)


async def stop_when_asked(app: Sanic, asked: asyncio.Event) -> None:
    """Once SIGTERM came and the server runs: stop listening, let calls in progress finish."""
    await asked.wait()
    while not app.state.is_running:  # still starting: Sanic's main loop has not begun
        await asyncio.sleep(0.01)
    logger.info("SIGTERM: stopping; action calls in progress may finish")
    app.ctx.loom_stopping = True
    app.stop(terminate=False)
