"""The platform clients' retries: the house's one policy (`bot.retry`, on tenacity), and deferral.

Exponential backoff with jitter on 429, 5xx and no answer; the platform's own wait (X's
`x-rate-limit-reset`) when it names one; never on errors that cannot succeed on a retry.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from bot.retry import RetryPolicy

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


async def with_retries(
    call: Callable[[], Awaitable[T]],
    errors: type[PlatformError],
    what: str,
    policy: RetryPolicy,
    on_error: Callable[[PlatformError], None] = lambda _: None,
    on_retry: Callable[[PlatformError], None] = lambda _: None,
) -> T:
    """Run `call` under `policy`; an `errors` instance is tried again if it is `retryable`.

    `on_error` hears of every failed attempt, `on_retry` of those that are tried again. The wait is
    the error's own (`wait`: what the platform asked for, capped by the policy), else the backoff.
    """

    async def attempt() -> T:
        try:
            return await call()
        except errors as err:
            on_error(err)
            raise

    try:
        return await policy.run(
            attempt,
            retryable=lambda err: isinstance(err, errors) and err.retryable,
            what=what,
            asked=lambda err: getattr(err, "wait", None),
            on_retry=lambda err, _attempt, _delay: on_retry(err),  # type: ignore[arg-type]
        )
    except errors as err:
        logger.error("%s failed: %s", what, err)
        raise
