"""Messages per second and latency through the REST channel, for N concurrent conversations.

Each simulated customer runs a realistic script (greeting, order status with database lookups: REST
conversations are never linked to a customer, so the order's postcode is checked first; stock question,
store hours, thanks) and waits for each reply before sending the next message,
as a person would. Latency is measured per message, from request to the complete reply.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from bench.stats import percentile

SCRIPT = [
    "hi there",
    "where is my order 104523?",
    "N1 9GU",
    "do you have the linen shirt in navy size L?",
    "what time does the manchester store open",
    "thanks!",
]
# Every system issue 24 compares gets the same unmeasured warm-up before its figures: this many
# conversations at once, this many messages each (as the measured 20-conversation run). A server's
# first minute is slower than its steady state (TensorFlow's kernels, caches, connection pools).
WARM_UP_CONVERSATIONS = 20
WARM_UP_MESSAGES = 15


def cycled(script: Sequence[str], messages: int) -> list[str]:
    """A customer's `messages` messages: `script` from the start, as often as needed."""
    return [script[i % len(script)] for i in range(messages)]


@dataclass
class ThroughputResult:
    """What one run measured."""

    conversations: int
    messages: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def per_second(self) -> float:
        """Messages answered per second."""
        return self.messages / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Latency percentile in seconds (q in 0..100)."""
        return percentile(self.latencies, q) if self.latencies else float("nan")

    def summary(self) -> str:
        """One line for humans."""
        p50, p95, p99 = (self.percentile(q) * 1000 for q in (50, 95, 99))
        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")
        return (
            f"{self.conversations} concurrent conversations, {self.messages} messages "
            f"in {self.seconds:.1f} s: "
            f"{self.per_second:.1f} msg/s, p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms, "
            f"mean {mean:.0f} ms, errors {self.errors}"
        )


async def customer(session: aiohttp.ClientSession, url: str, rounds: int, latencies: list[float]) -> int:
    """One conversation; returns the number of failed messages."""
    sender = f"bench-{uuid.uuid4().hex[:10]}"
    errors = 0
    for _ in range(rounds):
        for text in SCRIPT:
            started = time.perf_counter()
            try:
                async with session.post(url, json={"sender": sender, "message": text}) as response:
                    replies = await response.json()
                    if response.status != 200 or not replies:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append(time.perf_counter() - started)
    return errors


async def measure(base_url: str, token: str, conversations: int, rounds: int = 2) -> ThroughputResult:
    """Run `conversations` customers at once, each through the script `rounds` times.

    `token`: the REST channel's bearer token (REST_CHANNEL_TOKEN).
    """
    url = f"{base_url}/webhooks/rest/webhook"
    latencies: list[float] = []
    timeout = aiohttp.ClientTimeout(total=120)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        # One warm-up message so the first-request costs (model graph, DB pool) are not measured.
        async with session.post(url, json={"sender": "bench-warmup", "message": "hi"}) as response:
            await response.read()
        started = time.perf_counter()
        errors = await asyncio.gather(
            *(customer(session, url, rounds, latencies) for _ in range(conversations))
        )
        seconds = time.perf_counter() - started
    return ThroughputResult(conversations, len(latencies), seconds, latencies, sum(errors))
