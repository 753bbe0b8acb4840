"""Alert webhooks against a real local receiver that checks the signature as a customer's system would."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.monitoring.config import ConfigError, MonitoringConfig, WebhookSettings
from bot.monitoring.webhook import FAILED, SENT, WebhookClient, check_url, sign, verify

SECRET = "whsec-test-1234"


class Receiver:
    """A webhook endpoint: answers from a script of statuses, then 200; refuses bad signatures with 401."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self.bodies: list[bytes] = []
        self.signatures_ok: list[bool] = []
        self.retry_after: str | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        good = hmac.compare_digest(request.headers.get("X-Loom-Signature-256", ""), expected)
        self.bodies.append(body)
        self.signatures_ok.append(good)
        if not good:
            return web.Response(status=401, text="bad signature")
        status = self.script.pop(0) if self.script else 200
        headers = {"Retry-After": self.retry_after} if status == 429 and self.retry_after else {}
        return web.Response(status=status, headers=headers)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/alerts", hook.handle)
    async with TestServer(app) as server:
        yield hook, str(server.make_url("/hooks/alerts"))


class Sleeps:
    """Records the backoff instead of waiting it out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def client(url: str, secret: str = SECRET, attempts: int = 4) -> tuple[WebhookClient, Sleeps]:
    sleeps = Sleeps()
    settings = WebhookSettings(url=url, secret=secret, attempts=attempts, backoff_seconds=0.5)
    return WebhookClient(settings, sleep=sleeps), sleeps


PAYLOAD: dict[str, Any] = {"id": 7, "scope": "messenger", "messages": [{"text": "still no refund 😡"}]}


def test_the_signature_is_hex_hmac_sha256_of_the_raw_body():
    body = b'{"id": 1}'
    assert sign(body, "s") == "sha256=" + hmac.new(b"s", body, hashlib.sha256).hexdigest()
    assert verify(body, sign(body, "s"), "s")
    assert not verify(body + b" ", sign(body, "s"), "s") and not verify(body, None, "s")


async def test_an_accepted_alert_is_sent_once_signed(receiver):
    hook, url = receiver
    webhook, sleeps = client(url)
    try:
        delivery = await webhook.deliver(PAYLOAD)
    finally:
        await webhook.close()
    assert (delivery.status, delivery.attempts) == (SENT, 1)
    assert hook.signatures_ok == [True] and sleeps.delays == []
    assert json.loads(hook.bodies[0]) == PAYLOAD


async def test_server_errors_and_rate_limits_are_retried_with_growing_waits(receiver):
    hook, url = receiver
    hook.script = [503, 500, 429]
    webhook, sleeps = client(url)
    try:
        delivery = await webhook.deliver(PAYLOAD)
    finally:
        await webhook.close()
    assert (delivery.status, delivery.attempts) == (SENT, 4)
    # between half and all of 0.5 s, 1 s, 2 s: growing, with jitter
    assert [c / 2 <= d <= c for d, c in zip(sleeps.delays, [0.5, 1.0, 2.0], strict=True)] == [True] * 3
    assert len(set(hook.bodies)) == 1 and all(hook.signatures_ok)  # the same signed body every time


def test_waits_are_jittered_and_bounded():
    """The old loop waited exactly 0.5, 1, 2, ... s: every alert retried at once hit the receiver in step."""
    webhook, _ = client("https://hooks.example/alerts")
    cap = WebhookSettings().max_backoff_seconds
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (12, cap)]:
        delays = [webhook.retry.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt
        assert len(set(delays)) > 100  # spread, not one value


async def test_a_retry_after_date_is_honoured_and_a_long_one_capped(receiver):
    hook, url = receiver
    hook.script, hook.retry_after = [429], formatdate(time.time() + 5, usegmt=True)
    webhook, sleeps = client(url)
    try:
        assert (await webhook.deliver(PAYLOAD)).status == SENT
        hook.script, hook.retry_after = [429], "3600"
        assert (await webhook.deliver(PAYLOAD)).status == SENT
    finally:
        await webhook.close()
    assert 3.0 < sleeps.delays[0] <= 5.0  # the old loop read only digits and backed off 0.5 s instead
    assert sleeps.delays[1] == WebhookSettings().max_backoff_seconds


@pytest.mark.parametrize("status", [400, 404, 410, 422])
async def test_client_errors_other_than_429_are_final(receiver, status):
    hook, url = receiver
    hook.script = [status]
    webhook, sleeps = client(url)
    try:
        delivery = await webhook.deliver(PAYLOAD)
    finally:
        await webhook.close()
    assert (delivery.status, delivery.attempts, delivery.detail) == (FAILED, 1, f"HTTP {status}")
    assert len(hook.bodies) == 1 and sleeps.delays == []


async def test_a_rate_limit_says_how_long_to_wait(receiver):
    hook, url = receiver
    hook.script, hook.retry_after = [429], "3"
    webhook, sleeps = client(url)
    try:
        assert (await webhook.deliver(PAYLOAD)).status == SENT
    finally:
        await webhook.close()
    assert sleeps.delays == [3.0]


async def test_attempts_are_bounded(receiver):
    hook, url = receiver
    hook.script = [502] * 10
    webhook, sleeps = client(url, attempts=3)
    try:
        delivery = await webhook.deliver(PAYLOAD)
    finally:
        await webhook.close()
    assert (delivery.status, delivery.attempts, delivery.detail) == (FAILED, 3, "HTTP 502")
    assert len(hook.bodies) == 3 and len(sleeps.delays) == 2


async def test_a_refusal_is_final(receiver):
    hook, url = receiver
    webhook, sleeps = client(url, secret="not-the-receivers-secret")
    try:
        delivery = await webhook.deliver(PAYLOAD)
    finally:
        await webhook.close()
    assert (delivery.status, delivery.attempts, delivery.detail) == (FAILED, 1, "HTTP 401")
    assert hook.signatures_ok == [False] and sleeps.delays == []


async def test_connection_errors_are_retried():
    webhook, sleeps = client("http://127.0.0.1:9/hooks", attempts=3)  # nothing listens on port 9
    try:
        delivery = await webhook.deliver(PAYLOAD)
    finally:
        await webhook.close()
    assert (delivery.status, delivery.attempts) == (FAILED, 3)
    assert "ClientConnectorError" in delivery.detail
    assert len(sleeps.delays) == 2 and 0.25 <= sleeps.delays[0] <= 0.5 and 0.5 <= sleeps.delays[1] <= 1.0


def test_a_webhook_without_a_secret_is_a_configuration_error():
    with pytest.raises(ConfigError, match="MONITORING_WEBHOOK_SECRET"):
        MonitoringConfig.from_dict({"webhook": {"url": "https://hooks.example/alerts"}})
    config = MonitoringConfig.from_dict(
        {"webhook": {"url": "https://hooks.example/alerts"}}, {"MONITORING_WEBHOOK_SECRET": "s3"}
    )
    assert config.webhook.enabled and config.webhook.secret == "s3"
    assert not MonitoringConfig.from_dict({}).webhook.enabled
    with pytest.raises(ConfigError, match="unknown"):
        MonitoringConfig.from_dict({"spikes": {"windw_minutes": 5}})


@pytest.fixture
async def redirecting() -> AsyncIterator[tuple[Receiver, str]]:
    """A receiver whose URL redirects (307 keeps the POST and its headers) to the real endpoint."""
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/alerts", hook.handle)

    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/hooks/alerts")

    app.router.add_post("/old/alerts", moved)
    async with TestServer(app) as server:
        yield hook, str(server.make_url("/old/alerts"))


async def test_redirects_are_not_followed_with_the_signature(redirecting):
    hook, url = redirecting
    webhook, sleeps = client(url)
    try:
        delivery = await webhook.deliver(PAYLOAD)
    finally:
        await webhook.close()
    assert delivery.status == FAILED and delivery.attempts == 1 and "HTTP 307" in delivery.detail
    assert hook.bodies == [] and sleeps.delays == []  # the signed alert never reached the redirect target


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example/alerts",
        "http://10.0.0.5/alerts",
        "ftp://hooks.example/alerts",
        "hooks.example/alerts",
        "https://[::1",
        "https:///alerts",
    ],
)
def test_only_https_or_loopback_http_is_accepted(url, caplog):
    with pytest.raises(ConfigError, match="https://"):
        WebhookClient(WebhookSettings(url=url, secret=SECRET))
    assert "alert webhook URL refused" in caplog.text


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example/alerts", "http://127.0.0.1:8080/a", "http://localhost/a", "http://[::1]:9/a"],
)
def test_https_and_loopback_http_are_accepted(url):
    assert check_url(url) == url
    WebhookClient(WebhookSettings(url=url, secret=SECRET))
