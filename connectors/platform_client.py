"""What the Graph and X API clients share: the error base, one request with retries, the reply rule.

Subclasses say how requests are made (format, authentication) and how answers map to results or
errors. The HTTP session belongs to the channel (one per server process); clients borrow it. Every
attempt of a rate-limited kind of call first takes a token (`connectors.rate_limit`, shared by the
replicas through Redis), so the platforms' limits are kept before they answer 429.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, ClassVar

import aiohttp

from bot import timeline
from bot.retry import RetryPolicy
from connectors.metrics import count, measured_send
from connectors.outbox import Outbox, current_turn
from connectors.rate_limit import RateLimited, RateLimiter, limiter_from_env
from connectors.retry import ReplyDeferred, with_retries

Session = Callable[[], Awaitable[aiohttp.ClientSession]]


class PlatformError(Exception):
    """A platform refused a request, or could not be reached after all retries."""

    def __init__(self, message: str, status: int = 0, wait: float | None = None) -> None:
        super().__init__(message)
        self.status = status  # 0: no answer at all (connection error, timeout)
        self.wait = wait  # seconds the platform asked us to wait (rate limit), if it said

    @property
    def retryable(self) -> bool:
        """Whether trying again can succeed: rate limited, a server error, or no answer."""
        return self.status in (0, 429) or self.status >= 500


class PlatformClient:
    """Session, timeout and retries of one platform's API; callers' settings pass through subclasses."""

    api_name: ClassVar[str]  # in "could not reach the <api_name>"
    error: ClassVar[type[PlatformError]]

    def __init__(
        self,
        platform: str,
        session: Session,
        max_attempts: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        timeout: float = 10.0,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.platform = platform  # the name in metrics and the outbox
        self._session = session
        self.retry = RetryPolicy(attempts=max_attempts, base_delay=base_delay, max_delay=max_delay)
        self.timeout = timeout
        # The process's limiter (Redis-backed with REDIS_URL), read from the environment at start-up.
        self.limiter = limiter or limiter_from_env()

    # The retry policy's numbers, settable one by one (tests make the waits short).
    @property
    def max_attempts(self) -> int:
        """Attempts per call, the first included."""
        return self.retry.attempts

    @max_attempts.setter
    def max_attempts(self, value: int) -> None:
        self.retry = replace(self.retry, attempts=value)

    @property
    def base_delay(self) -> float:
        """The first backoff's ceiling, in seconds."""
        return self.retry.base_delay

    @base_delay.setter
    def base_delay(self, value: float) -> None:
        self.retry = replace(self.retry, base_delay=value)

    @property
    def max_delay(self) -> float:
        """The longest backoff, in seconds."""
        return self.retry.max_delay

    @max_delay.setter
    def max_delay(self, value: float) -> None:
        self.retry = replace(self.retry, max_delay=value)

    @property
    def api_url(self) -> str:
        """The API's base URL: the platform's own host gets the platform's default rate limits."""
        raise NotImplementedError

    def _account(self) -> str:
        """Whose budget a call spends (a digest of the credentials): a Page, an account."""
        raise NotImplementedError

    async def _send_once(
        self,
        outbox: Outbox | None,
        request: Callable[[], Awaitable[dict[str, Any]]],
        message_id: Callable[[dict[str, Any]], str],
    ) -> str:
        """A measured message send; with an `outbox` (bot replies), once per turn position."""

        async def send() -> str:
            with measured_send(self.platform):
                answer = await request()
            return message_id(answer)

        return await outbox.send_once(self.platform, send) if outbox is not None else await send()

    async def _with_retries(
        self,
        method: str,
        url: str,
        arguments: Callable[[], dict[str, Any]],
        what: str,
        on_error: Callable[[Any], None],
        limit: str | None = None,
    ) -> dict[str, Any]:
        """The request, retried by `connectors.retry`; `arguments` (body, auth) are made anew each time.

        With `limit` (a kind of `connectors.rate_limit.KINDS`) each attempt waits for its token first;
        if that would take too long, the call fails at once as rate limited (429, retryable: a bot
        reply is deferred) without reaching the platform.
        """

        async def attempt() -> dict[str, Any]:
            if limit is not None:
                await self.limiter.acquire(limit, self._account(), self.api_url)
            return await self._request_once(method, url, **arguments())

        try:
            return await with_retries(
                attempt,
                self.error,
                what,
                self.retry,
                on_error=on_error,
                on_retry=lambda _: count("send_retries", self.platform),
            )
        except RateLimited as err:
            refused = self.error(f"{what}: {err} (our own limit; not sent)", 429)
            refused.wait = err.wait
            raise refused from err

    async def _request_once(self, method: str, url: str, **arguments: Any) -> dict[str, Any]:
        session = await self._session()
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            with timeline.span("platform_http"):
                async with session.request(method, url, timeout=timeout, **arguments) as response:
                    try:
                        answer = await response.json(content_type=None)
                    except ValueError:
                        answer = self._unreadable((await response.text())[:200])
                    return self._result(response, answer)
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            raise self.error(f"could not reach the {self.api_name}: {type(err).__name__} {err}") from err

    def _unreadable(self, text: str) -> Any:  # what stands for an answer that is not JSON
        raise NotImplementedError

    def _result(self, response: aiohttp.ClientResponse, answer: Any) -> dict[str, Any]:  # or raise
        raise NotImplementedError


async def send_reply(
    send: Callable[[], Awaitable[Any]],
    platform: str,
    label: str,
    recipient_id: str,
    log: logging.Logger,
    final: tuple[type[Exception], ...] = (),
) -> None:
    """A bot reply: deferred (`ReplyDeferred`) on a retryable error inside an inbox event, else lost."""
    try:
        await send()
    except (PlatformError, *final) as err:
        if isinstance(err, PlatformError) and err.retryable and current_turn() is not None:
            raise ReplyDeferred(f"{label} reply to {recipient_id}: {err}") from err
        count("replies_lost", platform)
        log.error("%s reply to %s not delivered: %s", label, recipient_id, err)
