"""One retry policy for every outbound call, on tenacity: bounded attempts, backoff with jitter.

A failure worth another try (the caller says which: rate limits, server errors, no answer) waits
either what the server asked for (`Retry-After`, X's `x-rate-limit-reset`), capped at
`max_asked_wait`, or an exponential backoff with "equal jitter": between half and all of
`base_delay * 2**(attempt - 1)`, capped at `max_delay`. The jitter spreads the retries of many
conversations (or replicas) apart instead of sending them back in step; the floor keeps a retry from
coming straight back. Anything else is final at once.

Used by the connectors' platform clients (runtime A, Rasa's Python 3.10) and the services of runtime B
(monitoring's alert webhook): standard library and tenacity only.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_before_delay

logger = logging.getLogger(__name__)
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to try one outbound call."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_asked_wait: float = 60.0  # a longer wait asked by the server is cut to this
    # Also give up before a wait would end more than this many seconds after the first try (None: no
    # limit but the attempts): for a call that may be retried for as long as a restart takes.
    budget: float | None = None

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")

    def backoff(self, attempt: int) -> float:
        """The jittered wait after failed attempt `attempt` (1-based), when the server named none."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def delay(self, attempt: int, asked: float | None = None) -> float:
        """The wait after failed attempt `attempt`: what the server asked (capped), else backoff."""
        if asked is not None:
            return max(0.0, min(float(asked), self.max_asked_wait))
        return self.backoff(attempt)

    async def run(
        self,
        call: Callable[[], Awaitable[T]],
        retryable: Callable[[BaseException], bool],
        what: str,
        asked: Callable[[BaseException], float | None] = lambda _: None,
        on_retry: Callable[[BaseException, int, float], Any] | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> T:
        """`call()` until it returns, raises something not `retryable`, or the attempts run out.

        `call` must be a coroutine function (`async def`): tenacity runs anything else as a plain
        function, so a lambda returning a coroutine would come back unawaited.

        The last error is raised as it was. `asked(error)`: the seconds the server asked for, if any;
        `on_retry(error, attempt, delay)` hears of each attempt that is tried again.
        """

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome is not None else None
            return self.delay(state.attempt_number, asked(error) if error is not None else None)

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            delay = state.next_action.sleep if state.next_action is not None else 0.0
            logger.warning(
                "%s failed (attempt %d/%d), retrying in %.1f s: %s",
                what,
                state.attempt_number,
                self.attempts,
                delay,
                error,
            )
            if on_retry is not None and error is not None:
                on_retry(error, state.attempt_number, delay)

        stop = stop_after_attempt(self.attempts)
        if self.budget is not None:
            stop = stop | stop_before_delay(self.budget)
        retrying = AsyncRetrying(
            stop=stop,
            wait=wait,
            retry=retry_if_exception(retryable),
            before_sleep=before_sleep,
            sleep=sleep,
            reraise=True,
        )
        return await retrying(call)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds an HTTP `Retry-After` asks for: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3).

    None when absent or unreadable (then the backoff decides); a date in the past is 0.
    """
    text = (value or "").strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # an HTTP-date is always GMT
        return None
    return max(0.0, moment.timestamp() - now)
