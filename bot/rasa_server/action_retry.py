"""Calls to the action server survive its restart: retried while it cannot be reached, for a while.

Rasa 3.6 calls a custom action once; if the action server is being restarted or replaced (a deploy, a
crash, the fault harness killing it), the call fails, Rasa logs the error, drops the action's events and
finishes the turn: the customer gets no answer, and since the turn was saved, nothing ever answers
them. Here `RemoteAction.run` is retried with the one retry policy of every outbound call
(`bot.retry.RetryPolicy`: exponential backoff with jitter), for up to `ACTION_RETRY_SECONDS` (default
30), when the action server could not be reached (connection refused or reset, no answer) or
answered 502/503/504 (a proxy in front of it, or it is starting). Any other failure (a 400 rejection, a
500 from the action's own code, a timeout: the action may still be running) is final as before.

A call cut off after the action server received it may run the action twice; our actions that change
something (cancelling an order, starting a return) check the order's state first, so a second run
finds the work done.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from bot import timeline
from bot.retry import RetryPolicy

logger = logging.getLogger(__name__)

DEFAULT_RETRY_SECONDS = 30.0
RETRY_STATUSES = (502, 503, 504)
FIRST_DELAY = 0.25
MAX_DELAY = 4.0
ATTEMPTS = 1000  # never the limit: 30 s of waits of at most 4 s are about 10 attempts


def retry_seconds(env: dict[str, str] | os._Environ[str] = os.environ) -> float:
    """`ACTION_RETRY_SECONDS` (0 turns retries off); a bad value stops start-up."""
    raw = env.get("ACTION_RETRY_SECONDS") or str(DEFAULT_RETRY_SECONDS)
    try:
        value = float(raw)
    except ValueError as err:
        raise SystemExit(f"ACTION_RETRY_SECONDS must be a number of seconds, got {raw!r}") from err
    if not 0 <= value <= 600:
        raise SystemExit("ACTION_RETRY_SECONDS must be between 0 and 600")
    return value


def unreachable(error: BaseException) -> bool:
    """Whether a failed action call means the action server was not there to run it."""
    import aiohttp
    from rasa.utils.endpoints import ClientResponseError

    cause = error.__cause__ or error.__context__
    for candidate in (error, cause):
        if isinstance(candidate, ClientResponseError) and candidate.status in RETRY_STATUSES:
            return True
        if isinstance(candidate, aiohttp.ClientConnectionError):  # not a timeout: it may be running
            return True
    return False


def install(seconds: float | None = None) -> None:
    """Wrap `RemoteAction.run` once per process (the Rasa server's, at start-up)."""
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.exceptions import RasaException

    if getattr(RemoteAction.run, "loom_retries", False):
        return
    budget = retry_seconds() if seconds is None else seconds
    original = RemoteAction.run

    # As many attempts as fit in the budget: the budget is what ends them.
    policy = RetryPolicy(attempts=ATTEMPTS, base_delay=FIRST_DELAY, max_delay=MAX_DELAY, budget=budget)

    def retryable(error: BaseException) -> bool:
        return isinstance(error, RasaException) and unreachable(error)

    async def run(self: RemoteAction, *args: Any, **kwargs: Any) -> Any:
        async def attempt() -> Any:  # a coroutine function: tenacity awaits only those
            return await original(self, *args, **kwargs)

        with timeline.span("action_call"):
            return await policy.run(
                attempt,
                retryable,
                what=f"action {self.name()}: the action server could not be reached",
            )

    run.loom_retries = True  # type: ignore[attr-defined]
    RemoteAction.run = run  # type: ignore[method-assign]
