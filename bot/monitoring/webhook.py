"""Posting alerts to a webhook: JSON, signed with HMAC-SHA256, retried under the house's retry policy.

The receiver checks `X-Loom-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` with the shared
secret (constant-time), as GitHub's and Meta's webhooks are checked. Connection errors, timeouts, 429 and
5xx answers are retried a bounded number of times (`bot.retry`: exponential backoff with jitter, so
alerts retried together do not hit the receiver in step; a `Retry-After`, in seconds or as an HTTP
date, is respected up to the backoff cap); other answers are final. Alerts carry their id, so a
receiver can drop a repeat.

The URL must be https (http only to a loopback host, for tests and local development), and redirects
are never followed: a redirect would carry the signed alert to wherever the receiver points, and a plain
http hop would show it to the network.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.monitoring.config import ConfigError, WebhookSettings
from bot.monitoring.const import SIGNATURE_HEADER
from bot.retry import RetryPolicy, retry_after_seconds

logger = logging.getLogger(__name__)
SENT, FAILED, PENDING, DISABLED = "sent", "failed", "pending", "disabled"


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for `body`."""
    if not secret:
        raise ValueError("a webhook secret is required to sign")
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """Whether `header` is the signature of `body` (for receivers and tests)."""
    return bool(header) and hmac.compare_digest(str(header), sign(body, secret))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """`url` if alerts may be posted there: https, or http to a loopback host; ConfigError otherwise."""
    try:
        parts = urlsplit(url)
        host, scheme = (parts.hostname or "").lower(), parts.scheme
    except ValueError:  # e.g. "https://[::1"
        host, scheme = "", ""
    if host and (scheme == "https" or (scheme == "http" and _loopback(host))):
        return url
    logger.error("alert webhook URL refused (https only; http only to loopback): %r", url)
    raise ConfigError(
        f"webhook.url must be an https:// URL (http:// only for localhost/127.0.0.1), got {url!r}"
    )


def retryable(status: int) -> bool:
    """Answers worth trying again: rate limits and server errors."""
    return status == 429 or status >= 500


@dataclass(frozen=True)
class Delivery:
    """How posting one alert went."""

    status: str  # sent | failed
    attempts: int
    detail: str = ""


class _TryAgain(Exception):
    """An attempt worth repeating: a 429 or 5xx answer, or no answer."""

    def __init__(self, detail: str, wait: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.wait = wait  # what the receiver's Retry-After asked for, in seconds


class WebhookClient:
    """Posts JSON to the configured URL; the session is injected (or made on first use)."""

    def __init__(
        self,
        settings: WebhookSettings,
        session: aiohttp.ClientSession | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if not settings.url or not settings.secret:
            raise ValueError("a webhook needs a url and a secret")
        check_url(settings.url)
        self._settings = settings
        self._session = session
        self._own_session = session is None
        self._sleep = sleep
        self.retry = RetryPolicy(
            attempts=settings.attempts,
            base_delay=settings.backoff_seconds,
            max_delay=settings.max_backoff_seconds,
            max_asked_wait=settings.max_backoff_seconds,
        )

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._settings.timeout_seconds)
            )
        return self._session

    async def close(self) -> None:
        """Close the session if this client made it."""
        if self._own_session and self._session is not None:
            await self._session.close()

    async def deliver(
        self, payload: dict[str, Any], on_attempt: Callable[[int], Awaitable[None]] | None = None
    ) -> Delivery:
        """Post `payload` until it is accepted or the attempts run out; `on_attempt(n)` before each."""
        body = json.dumps(payload, sort_keys=True, default=str).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, self._settings.secret),
            "User-Agent": "loom-support-monitoring",
        }
        attempts = 0

        async def attempt() -> Delivery:
            nonlocal attempts
            attempts += 1
            if on_attempt is not None:
                await on_attempt(attempts)
            return await self._post_once(body, headers, attempts)

        try:
            return await self.retry.run(
                attempt,
                retryable=lambda err: isinstance(err, _TryAgain),
                what="alert webhook",
                asked=lambda err: getattr(err, "wait", None),
                sleep=self._sleep,
            )
        except _TryAgain as err:
            logger.warning("alert webhook gave up after %s attempts: %s", attempts, err.detail)
            return Delivery(FAILED, attempts, err.detail)

    async def _post_once(self, body: bytes, headers: dict[str, str], attempt: int) -> Delivery:
        """One POST: a final Delivery, or `_TryAgain`."""
        try:
            async with self._http().post(
                self._settings.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                if 300 <= response.status < 400:  # never carry the signature elsewhere
                    detail = f"HTTP {response.status} redirect to {response.headers.get('Location')!r}"
                    logger.warning("alert webhook answered with a redirect, not followed: %s", detail)
                    return Delivery(FAILED, attempt, detail)
                if response.status < 300:
                    return Delivery(SENT, attempt)
                detail = f"HTTP {response.status}"
                if not retryable(response.status):
                    logger.warning("alert webhook refused the alert: %s", detail)
                    return Delivery(FAILED, attempt, detail)
                asked = retry_after_seconds(response.headers.get("Retry-After"), time.time())
                raise _TryAgain(detail, asked)
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            raise _TryAgain(f"{err.__class__.__name__}: {err}") from err
