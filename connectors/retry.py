"""Retries with exponential backoff and jitter, shared by the platform clients."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # the clients' error base; it imports this module
    from connectors.platform_client import PlatformError

logger = logging.getLogger(__name__)
T = TypeVar("T")


class ReplyDeferred(RuntimeError):
    """A bot reply the platform could not take now (rate limit, outage), after the client's retries.

    Raised only while an inbox event is being handled (`outbox.current_turn()`): the turn fails, the
    inbox worker handles the event again later, and the outbox keeps the replies already sent from
    going twice. Outside an inbox event (nothing would try again) the reply is logged as lost instead.
    """


def backoff(attempt: int, base_delay: float, max_delay: float) -> float:
    """Exponential backoff with jitter: spreads the retries of many conversations apart."""
    ceiling = min(max_delay, base_delay * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    errors: type[PlatformError],
    what: str,
    attempts: int,
    base_delay: float,
    max_delay: float,
    on_error: Callable[[PlatformError], None] = lambda _: None,
    on_retry: Callable[[PlatformError], None] = lambda _: None,
) -> T:
    """Run `call`; on a retryable `errors` instance wait (as told, or backoff) and try again.

    `on_error` hears of every failed attempt, `on_retry` of those that are tried again.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except errors as err:
            on_error(err)
            if not err.retryable or attempt == attempts:
                logger.error("%s failed: %s", what, err)
                raise
            delay = err.wait or backoff(attempt, base_delay, max_delay)
            on_retry(err)
            logger.warning(
                "%s failed (attempt %d/%d), retrying in %.1f s: %s", what, attempt, attempts, delay, err
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: attempts must be at least 1")
