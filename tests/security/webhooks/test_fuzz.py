"""The webhook fuzzer: thousands of mutated bodies, signed and not, on every channel's real route.

`FUZZ_BODIES` bodies in all (default 2,000, a few seconds; `make fuzz` runs 50,000), a third of them
unsigned or wrongly signed, from the seed `FUZZ_SEED`. For each channel:

1. the unsigned phase: every answer is 403 (or 413 when the body is over the size limit), and once
   everything is processed nothing reached the assistant, the platform's API or the mentions table;
2. a real signed message, which must then be all that reached the assistant;
3. the signed phase: every answer is 200, 400 or 413, never a 5xx; no event's processing failed;
   whatever reached the assistant has string text and ids;
4. the server still answers its health route and a new message.

The figures (bodies per channel, signed and unsigned, statuses, 5xx, bodies per second) are printed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from connectors.limits import DEFAULT_MAX_BYTES
from connectors.metrics import value
from connectors.security import hub_signature, x_signature

from .conftest import META_SECRET, PLATFORMS, X_SECRET, Server, fixtures, fresh
from .fuzz import mutate

FUZZ_BODIES = int(os.environ.get("FUZZ_BODIES", "2000"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "21"))
SIGNED_STATUSES = {200, 400, 413}  # accepted (bad items left out), not a webhook, too big
UNSIGNED_STATUSES = {403, 413}  # the size limit comes before the signature check
CONTROL = {"messenger": "message__text", "instagram": "message__text", "twitter": "direct_message__text"}


@dataclass
class Figures:
    """What one channel's run did."""

    signed: int = 0
    unsigned: int = 0
    statuses: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    answered: int = 0  # signed variants that reached the assistant (or the mentions table)
    items_left_out: int = 0  # malformed items skipped inside accepted bodies

    @property
    def server_errors(self) -> int:
        """Answers of 500 or above."""
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def line(self, platform: str) -> str:
        """One line of the report."""
        total = self.signed + self.unsigned
        histogram = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items(), key=str))
        rate = total / self.seconds
        return (
            f"{platform:<10} {total:>6} bodies ({self.signed} signed, {self.unsigned} unsigned or wrongly "
            f"signed); statuses {{{histogram}}}; 5xx: {self.server_errors}; {self.answered} answered, "
            f"{self.items_left_out} items left out; {rate:.0f} bodies/s"
        )


def renumber(body: Any, rng: random.Random) -> Any:
    """New message and event ids, so most variants are not dropped as redeliveries."""
    if isinstance(body, list):
        return [renumber(item, rng) for item in body]
    if not isinstance(body, dict):
        return body
    copy = {key: renumber(item, rng) for key, item in body.items()}
    if isinstance(copy.get("mid"), str):
        copy["mid"] = f"m_{rng.getrandbits(64):x}"
    if "message_create" in copy or ("id_str" in copy and "user" in copy):  # a DM event or a tweet
        new = str(rng.randrange(10**18, 10**19))
        copy["id"] = new if isinstance(copy.get("id"), str) or "message_create" in copy else int(new)
        if "id_str" in copy:
            copy["id_str"] = new
    return copy


def wrong_signature(platform: str, raw: bytes, rng: random.Random) -> dict[str, str]:
    """Headers of an unsigned or wrongly signed delivery."""
    name = "x-twitter-webhooks-signature" if platform == "twitter" else "X-Hub-Signature-256"
    secret = X_SECRET if platform == "twitter" else META_SECRET
    sign = x_signature if platform == "twitter" else hub_signature
    choices = [
        lambda: {},
        lambda: {name: ""},
        lambda: {name: "sha256=" + "0" * 64},
        lambda: {name: sign(raw + b" ", secret)},
        lambda: {name: sign(raw[:-1], secret)},
        lambda: {name: sign(raw, secret + "x")},
        lambda: {name: sign(raw, META_SECRET if platform == "twitter" else X_SECRET)},
        lambda: {name: "sha1=" + hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()},
        lambda: {name: sign(raw, secret)[:-2]},
        lambda: {"X-Hub-Signature": sign(raw, secret)} if platform != "twitter" else {name.upper(): "x"},
    ]
    headers = rng.choice(choices)()
    if sign(raw, secret) in headers.values():  # the signature of raw[:-1] is right when raw is empty
        return {name: "sha256=" + "0" * 64}
    return headers


async def deliver(
    server: Server, platform: str, raw: bytes, headers: dict[str, str] | None, signed: bool
) -> int:
    """Post one body; a body over the limit may also be answered by the server closing the connection."""
    try:
        return (await server.post(platform, raw, headers=headers, signed=signed))[0]
    except (aiohttp.ClientError, ConnectionError):
        if len(raw) > DEFAULT_MAX_BYTES:
            return 413  # refused while we were still sending it
        raise


async def control(server: Server, platform: str, rng: random.Random) -> str:
    """A real signed message; its text."""
    body = renumber(fresh(fixtures(platform)[CONTROL[platform]]), rng)
    assert (await server.post_json(platform, body))[0] == 200
    return (
        body["direct_message_events"][0]["message_create"]["message_data"]["text"]
        if platform == "twitter"
        else (body["entry"][0]["messaging"][0]["message"]["text"])
    )


async def fuzz_channel(server: Server, platform: str, bodies: int, rng: random.Random) -> Figures:
    """The four steps of the module's docstring for one channel."""
    recorded = [renumber(fresh(body), rng) for body in fixtures(platform).values()]
    figures = Figures()
    started = time.perf_counter()

    for _ in range(bodies // 3):
        raw = mutate(rng, rng.choice(recorded))
        headers = wrong_signature(platform, raw, rng)
        status = await deliver(server, platform, raw, headers, signed=False)
        figures.unsigned += 1
        figures.statuses[status] += 1
        assert status in UNSIGNED_STATUSES, (status, raw[:300], headers)
    await server.settle()
    assert server.received == [] and server.api_calls == [] and server.mentions.saved == []

    text = await control(server, platform, rng)
    await server.settle()
    assert [m.text for m in server.received] == [text]
    server.received.clear()

    errors = value("processing_errors", platform)
    left_out = value("webhook_rejected", platform, "malformed_item")
    for _ in range(bodies - bodies // 3):
        raw = mutate(rng, renumber(rng.choice(recorded), rng))
        status = await deliver(server, platform, raw, None, signed=True)
        figures.signed += 1
        figures.statuses[status] += 1
        assert status in SIGNED_STATUSES, (status, raw[:300])
    await server.settle()
    figures.seconds = time.perf_counter() - started
    assert value("processing_errors", platform) == errors
    figures.answered = len(server.received) + len(server.mentions.saved)
    figures.items_left_out = int(value("webhook_rejected", platform, "malformed_item") - left_out)
    for message in server.received:
        assert isinstance(message.text, str) and isinstance(message.sender_id, str), message.text
        assert message.input_channel == platform

    async with server.http.get(f"{server.base}/{platform}/") as health:
        assert health.status == 200
    server.received.clear()
    text = await control(server, platform, rng)
    await server.settle()
    assert [m.text for m in server.received] == [text]
    server.received.clear()
    server.api_calls.clear()
    server.mentions.saved.clear()
    return figures


async def test_fuzzed_webhooks_never_fail_and_unsigned_ones_never_get_in(server, caplog):
    caplog.set_level(logging.ERROR, logger="connectors")  # a warning per refused body: not kept in memory
    rng = random.Random(FUZZ_SEED)
    report = {platform: await fuzz_channel(server, platform, FUZZ_BODIES // 3, rng) for platform in PLATFORMS}
    total = sum(f.signed + f.unsigned for f in report.values())
    seconds = sum(f.seconds for f in report.values())
    print(f"\nwebhook fuzzer, seed {FUZZ_SEED}: {total} bodies in {seconds:.1f} s ({total / seconds:.0f}/s)")
    for platform, figures in report.items():
        print(figures.line(platform))
    print(f"5xx: {sum(f.server_errors for f in report.values())}")
    assert all(f.server_errors == 0 for f in report.values())


def test_the_mutator_is_seeded_and_varied():
    body = fixtures("messenger")["message__text"]
    first = [mutate(random.Random(7), body) for _ in range(1)] + [mutate(random.Random(8), body)]
    again = [mutate(random.Random(7), body) for _ in range(1)] + [mutate(random.Random(8), body)]
    assert first == again and first[0] != first[1]
    rng = random.Random(1)
    variants = [mutate(rng, body) for _ in range(300)]
    decodable = sum(1 for raw in variants if _json_or_none(raw) is not None)
    assert 0.5 * len(variants) < decodable < len(variants)  # mostly JSON, some not
    assert len(set(variants)) > 250


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None
