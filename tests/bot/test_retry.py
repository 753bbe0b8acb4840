"""The house's one retry policy (bot/retry.py, on tenacity): what is retried, how long it waits."""

from __future__ import annotations

import pytest

from bot.retry import RetryPolicy, retry_after_seconds


class Flaky(Exception):
    def __init__(self, retryable: bool, wait: float | None = None) -> None:
        super().__init__("retryable" if retryable else "final")
        self.retryable = retryable
        self.wait = wait


class Script:
    """A call that raises the scripted errors in turn, then answers."""

    def __init__(self, *errors: Flaky) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def run(policy: RetryPolicy, call: Script) -> tuple[str, list[float], list[int]]:
    sleeps: list[float] = []
    retried: list[int] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    result = await policy.run(
        call,
        retryable=lambda err: isinstance(err, Flaky) and err.retryable,
        what="test call",
        asked=lambda err: getattr(err, "wait", None),
        on_retry=lambda _err, attempt, _delay: retried.append(attempt),
        sleep=sleep,
    )
    return result, sleeps, retried


async def test_retryable_errors_are_retried_with_jittered_backoff():
    call = Script(Flaky(True), Flaky(True))
    result, sleeps, retried = await run(RetryPolicy(attempts=3, base_delay=1.0, max_delay=8.0), call)
    assert (result, call.calls, retried) == ("ok", 3, [1, 2])
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


async def test_a_final_error_is_raised_at_once():
    call = Script(Flaky(False))
    with pytest.raises(Flaky, match="final"):
        await run(RetryPolicy(), call)
    assert call.calls == 1


async def test_attempts_are_bounded_and_the_last_error_is_raised():
    call = Script(*(Flaky(True) for _ in range(10)))
    with pytest.raises(Flaky, match="retryable"):
        await run(RetryPolicy(attempts=3), call)
    assert call.calls == 3


async def test_the_servers_wait_is_honoured_up_to_a_cap():
    call = Script(Flaky(True, wait=2.5), Flaky(True, wait=900.0), Flaky(True, wait=0.0))
    _, sleeps, _ = await run(RetryPolicy(attempts=4, max_asked_wait=60.0), call)
    assert sleeps == [2.5, 60.0, 0.0]


async def test_a_budget_ends_the_tries_before_a_wait_would_outlast_it():
    """The action server's calls: retried for ACTION_RETRY_SECONDS, however many attempts that is."""
    call = Script(Flaky(True, wait=2.5), Flaky(True, wait=12.0))
    with pytest.raises(Flaky, match="retryable"):
        await run(RetryPolicy(attempts=1000, budget=10.0), call)
    assert call.calls == 2  # a 2.5 s wait fits in the budget, a 12 s one does not
    never = Script(Flaky(True, wait=0.0))
    with pytest.raises(Flaky):  # ACTION_RETRY_SECONDS=0: never retried
        await run(RetryPolicy(attempts=2, budget=0.0), never)
    assert never.calls == 1


def test_backoff_grows_to_its_cap_with_jitter():
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (5, 8.0), (30, 8.0)]:
        delays = {policy.backoff(attempt) for _ in range(100)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(delays) > 50


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(header, seconds):
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert retry_after_seconds(header, now) == seconds
