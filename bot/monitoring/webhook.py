"""Posting alerts to a webhook: JSON, signed with HMAC-SHA256, retried with exponential backoff.

The receiver checks `X-Loom-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` with the shared
secret (constant-time), as GitHub's and Meta's webhooks are checked. Connection errors, timeouts, 429 and
5xx answers are retried a bounded number of times (a 429's Retry-After is respected up to the backoff
cap); other answers are final. Alerts carry their id, so a receiver can drop a repeat.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.monitoring.config import ConfigError, WebhookSettings
from bot.monitoring.const import SIGNATURE_HEADER

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

    def _backoff(self, attempt: int, retry_after: str | None = None) -> float:
        cap = self._settings.max_backoff_seconds
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), cap)
        return min(self._settings.backoff_seconds * 2 ** (attempt - 1), cap)

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
        detail = ""
        attempts = self._settings.attempts
        for attempt in range(1, attempts + 1):
            if on_attempt is not None:
                await on_attempt(attempt)
            retry_after = None
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
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                detail = f"{err.__class__.__name__}: {err}"
            if attempt < attempts:
                delay = self._backoff(attempt, retry_after)
                logger.info("alert webhook attempt %s failed (%s); again in %.1fs", attempt, detail, delay)
                await self._sleep(delay)
        logger.warning("alert webhook gave up after %s attempts: %s", attempts, detail)
        return Delivery(FAILED, attempts, detail)
