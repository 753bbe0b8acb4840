"""The simulator's fake Graph API, running over real HTTP, counting the profile reads it answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.customers.graph_profiles import GraphProfiles
from bot.platform_env import SIMULATOR_SECRETS, simulator_values
from bot.simulator.app import create_app
from bot.simulator.config import SimulatorConfig

TOKENS = {
    "messenger": SIMULATOR_SECRETS["META_PAGE_ACCESS_TOKEN"],
    "instagram": SIMULATOR_SECRETS["INSTAGRAM_ACCESS_TOKEN"],
}


@dataclass
class FakeMeta:
    """A running simulator: its client, base URL, and every profile read's user id, in order."""

    client: TestClient
    base: str
    reads: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        """host:port, for PHOTO_ALLOWED_HOSTS."""
        return self.base.removeprefix("http://")

    def graph(self, timeout: float = 3.0) -> GraphProfiles:
        """A profile client for this simulator with the simulator's tokens."""
        return GraphProfiles(f"{self.base}/v21.0", TOKENS, timeout=timeout)

    def environment(self) -> dict[str, str]:
        """Every platform variable, pointing at this simulator (as `make run` sets them)."""
        return simulator_values(self.base)

    async def messaged(self, platform: str, user_id: str) -> None:
        """The customer writes to the business (which is what lets Meta show their profile)."""
        answer = await self.client.post(
            "/_sim/customer_message", json={"platform": platform, "user_id": user_id, "text": "hi"}
        )
        assert answer.status in (200, 502), await answer.text()  # 502: no webhook listens; noted all the same

    async def describe(self, platform: str, user_id: str, **profile: Any) -> None:
        """Set the customer's profile on the fake platform."""
        answer = await self.client.post(
            "/_sim/profile", json={"platform": platform, "user_id": user_id, **profile}
        )
        assert answer.status == 200, await answer.text()

    async def fail_next(self, platform: str, user_id: str, **rule: Any) -> None:
        """Make the next profile read of this customer fail (or wait) as `/_sim/fail` describes."""
        body = {"platform": platform, "recipient": user_id, "kind": "profile", **rule}
        answer = await self.client.post("/_sim/fail", json=body)
        assert answer.status == 200, await answer.text()


@asynccontextmanager
async def fake_meta() -> AsyncIterator[FakeMeta]:
    """Start the simulator on a free port; its webhooks go nowhere (port 9)."""
    app = create_app(SimulatorConfig(webhook_base="http://127.0.0.1:9/webhooks", webhook_timeout=0.5))
    reads: list[str] = []

    @web.middleware
    async def count(request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        if request.method == "GET" and request.path.startswith("/v21.0/"):
            reads.append(request.path.rsplit("/", 1)[-1])
        return await handler(request)

    app.middlewares.append(count)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield FakeMeta(client, str(client.make_url("")).rstrip("/"), reads)
    finally:
        await client.close()
