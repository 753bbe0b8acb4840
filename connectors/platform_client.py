"""What the platform API clients share: a domain error, one HTTP exchange, and retries around it.

`GraphApiClient` (Meta) and `XApiClient` (X) are thin subclasses of `PlatformClient`: each says how
its requests are made (format, authentication) and how an answer becomes a result or its error.
The HTTP session belongs to the channel (one per server process); clients only borrow it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import aiohttp

from connectors.metrics import count, measured_send
from connectors.outbox import Outbox, current_turn
from connectors.retry import ReplyDeferred, with_retries


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
    """Session, timeout and retries of one platform's API; subclasses map its answers.

    Subclasses pass their callers' `max_attempts`, `base_delay`, `max_delay` and `timeout` through.
    """

    api_name: ClassVar[str]  # for "could not reach the <api_name>"
    error: ClassVar[type[PlatformError]]

    def __init__(
        self,
        platform: str,
        session: Callable[[], Awaitable[aiohttp.ClientSession]],
        max_attempts: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        timeout: float = 10.0,
    ) -> None:
        self.platform = platform  # the name in metrics and the outbox
        self._session = session
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = timeout

    async def _send_once(
        self,
        outbox: Outbox | None,
        request: Callable[[], Awaitable[dict[str, Any]]],
        message_id: Callable[[dict[str, Any]], str],
    ) -> str:
        """A message send, measured; its message id.

        With an `outbox` (bot replies), inside a turn the message takes the turn's next position and
        is not sent again when a re-run of the turn has already sent it (the stored id is returned).
        """

        async def send() -> str:
            with measured_send(self.platform):
                answer = await request()
            return message_id(answer)

        return await outbox.send_once(self.platform, send) if outbox is not None else await send()

    async def _with_retries(
        self, request_once: Callable[[], Awaitable[dict[str, Any]]], what: str
    ) -> dict[str, Any]:
        """`request_once` until it succeeds, fails for good, or the attempts run out (`connectors.retry`)."""
        return await with_retries(
            request_once,
            self.error,
            what,
            self.max_attempts,
            self.base_delay,
            self.max_delay,
            on_error=self._count_error,
            on_retry=lambda _: count("send_retries", self.platform),
        )

    async def _request_once(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """One request: the answer as `_result` maps it, or the platform's error (status 0 unreached)."""
        session = await self._session()
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with session.request(method, url, timeout=timeout, **kwargs) as response:
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    answer = self._unreadable((await response.text())[:200])
                return self._result(response, answer)
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            raise self.error(f"could not reach the {self.api_name}: {type(err).__name__} {err}") from err

    def _unreadable(self, text: str) -> Any:
        """The answer to map when the body is not JSON (its first 200 characters)."""
        raise NotImplementedError

    def _result(self, response: aiohttp.ClientResponse, answer: Any) -> dict[str, Any]:
        """The parsed answer of a success; raises the platform's error for anything else."""
        raise NotImplementedError

    def _count_error(self, err: PlatformError) -> None:
        """Count a failed attempt in the platform's error metric."""
        raise NotImplementedError


async def send_reply(
    send: Callable[[], Awaitable[Any]],
    platform: str,
    label: str,
    recipient_id: str,
    log: logging.Logger,
    final: tuple[type[Exception], ...] = (),
) -> None:
    """Send a bot reply; a failure is the turn's to retry, or a lost reply.

    A retryable failure inside an inbox event defers the turn (`ReplyDeferred`: the worker runs it
    again later); otherwise, with nothing to try again, the reply is logged and counted as lost, as
    it is on a `final` error (one the platform's rules make certain, e.g. Meta's messaging window).
    """
    try:
        await send()
    except (PlatformError, *final) as err:
        if isinstance(err, PlatformError) and err.retryable and current_turn() is not None:
            raise ReplyDeferred(f"{label} reply to {recipient_id}: {err}") from err
        count("replies_lost", platform)
        log.error("%s reply to %s not delivered: %s", label, recipient_id, err)
