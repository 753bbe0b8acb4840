"""How long a model swap stops the Rasa server's event loop: Rasa's own `PUT /model` against ours.

Runs in runtime A: `.venv-rasa/bin/python -m bench.model_swap_stall [--stock] [--model M] [--candidate C]`.
Builds Rasa's app in this process as `python -m bot.rasa_server run` does (our turn changes installed;
with `--stock`, Rasa's `PUT /model` left as it is), with the real model and endpoints.yml's stores (a
SQLite file in a scratch VAR_DIR), serves it on a free port, and while a `PUT /model` loads the
candidate, a ticker in the same event loop records how late each 10 ms sleep wakes: the loop's stalls.
With ours it also waits for the old model's release (its one garbage collection) and times that.
Prints JSON; asserts nothing (the tests do: tests/bot/rasa_server/test_model_swap.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TICK = 0.01


class Ticker:
    """Sleeps `TICK` again and again in the loop and keeps the worst lateness (the loop's stall)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.late_total = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            late = time.perf_counter() - before - TICK
            self.worst = max(self.worst, late)
            self.late_total += max(0.0, late)

    async def start(self) -> None:
        """Start ticking from zero (a few ticks pass before this returns)."""
        self.worst, self.late_total = 0.0, 0.0
        self._task = asyncio.get_running_loop().create_task(self._run())
        await asyncio.sleep(5 * TICK)

    async def stop(self) -> dict[str, float]:
        """Stop after one more tick; the worst lateness and the sum of all lateness since `start`."""
        assert self._task is not None
        await asyncio.sleep(2 * TICK)  # a tick that was due during a stall wakes now, and counts it
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        return {"worst_stall_s": round(self.worst, 3), "late_total_s": round(self.late_total, 3)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def serve(model: Path, stock: bool, secret: str) -> tuple[Any, Any, str]:
    """Rasa's app with `model` loaded, served on a free port: (app, server, base URL)."""
    import rasa.server
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints

    from bot.rasa_server import server

    rasa_create_app = rasa.server.create_app
    server.install_changes()
    create_app = rasa_create_app if stock else rasa.server.create_app  # stock: Rasa's own PUT /model
    endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
    app = create_app(jwt_secret=secret, jwt_method="HS256", endpoints=endpoints)
    app.ctx.agent = await load_agent(model_path=str(model), endpoints=endpoints)
    port = free_port()
    served = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await served.startup()
    return app, served, f"http://127.0.0.1:{port}"


async def measure(model: Path, candidate: Path, stock: bool, release_after: float) -> dict[str, Any]:
    import aiohttp

    from bot.conversations.api_auth import api_headers
    from bot.rasa_server import model_swap

    secret = "bench-secret-" + os.urandom(8).hex()
    model_swap.RELEASE_AFTER = release_after
    app, served, url = await serve(model, stock, secret)
    ticker = Ticker()
    try:
        async with aiohttp.ClientSession() as session:
            await ticker.start()
            await asyncio.sleep(1.0)
            idle = await ticker.stop()
            await ticker.start()
            started = time.perf_counter()
            async with session.put(
                f"{url}/model", json={"model_file": str(candidate)}, headers=api_headers(secret, "bench")
            ) as answer:
                status, text = answer.status, await answer.text()
            seconds = time.perf_counter() - started
            during = await ticker.stop()
            result: dict[str, Any] = {
                "route": "rasa" if stock else "loom",
                "status": status,
                "answer": text[:300],
                "swap_s": round(seconds, 2),
                "idle": idle,
                "during_swap": during,
            }
            swapper = getattr(app.ctx, "loom_model_swapper", None)
            if swapper is not None:
                await ticker.start()
                await swapper.released()
                result["during_release"] = await ticker.stop()
            return result
    finally:
        served.close()
        await served.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stock", action="store_true", help="Rasa's own PUT /model")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current.tar.gz")
    parser.add_argument("--candidate", type=Path, help="the model to swap to (default: --model again)")
    parser.add_argument("--release-after", type=float, default=2.0, help="ours: the old model's grace (s)")
    args = parser.parse_args()
    os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="swap-bench-"))
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    candidate = (args.candidate or args.model).resolve()
    print(json.dumps(asyncio.run(measure(args.model.resolve(), candidate, args.stock, args.release_after))))


if __name__ == "__main__":
    main()
