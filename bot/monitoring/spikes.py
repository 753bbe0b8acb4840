"""Spikes of negative messages: the recent window against a baseline from history. Pure functions.

Time is cut into windows of equal length ending now: window 0 is the recent one, windows 1..k (the
baseline hours) are history. Per scope (each channel, and "all"), the recent window is a spike when it
has at least `min_count` negative messages and either

- more than the baseline's mean + `sensitivity` standard deviations (the deviation never below
  `std_floor`, nor below the square root of the mean, as for counts that arrive at random), or
- a negative share at least `share_margin` above the baseline's share (the baseline's negatives over
  its messages), and `sensitivity` standard errors above it (few messages make a share noisy).

So a volume that is high but steady raises nothing, a jump in negatives does, and so does a window whose
messages turned negative at an ordinary volume. Windows from before monitoring's first recorded message
are not history (a new deployment has no "quiet" past to compare with).

Tracked keywords (brand tracking, monitoring.yml's `brand:`) are scopes too: "keyword:<name>" counts the
messages that name it, by the same rules. A keyword may also spike by volume: at least `min_count`
mentions and more than the baseline's mean + `sensitivity` standard deviations of mentions per window
(the same count test, applied to every mention instead of the negative ones), whatever their mood.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.monitoring.config import SpikeSettings
from bot.monitoring.const import ALL, KEYWORD_SCOPE

SHARE_FLOOR = 0.05


@dataclass(frozen=True)
class Observation:
    """One recorded customer message, as spike detection sees it."""

    message_id: int
    channel: str
    at: dt.datetime
    negative: bool
    keywords: frozenset[str] = frozenset()  # the tracked keywords it names (counted kinds only)


@dataclass(frozen=True)
class Baseline:
    """What a window usually looks like: mean and deviation of its negatives, and the negative share."""

    mean: float
    std: float
    share: float
    windows: int
    messages: int
    total_mean: float = 0.0  # messages of any mood per window (for volume spikes)
    total_std: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """The recent window of one scope, compared with its baseline."""

    scope: str
    window_start: dt.datetime
    window_end: dt.datetime
    negative: int
    total: int
    baseline: Baseline
    spike: bool
    reason: str
    message_ids: tuple[int, ...]  # the negative messages of the recent window (all for volume), oldest first
    volume: bool = False  # a spike by volume (keywords only)

    @property
    def share(self) -> float:
        """The recent window's negative share."""
        return self.negative / self.total if self.total else 0.0


def window_index(at: dt.datetime, now: dt.datetime, window: dt.timedelta) -> int:
    """0 for the recent window (now - window, now], 1 for the one before, ...; -1 for the future."""
    age = now - at
    if age < dt.timedelta(0):
        return -1
    if age == dt.timedelta(0):
        return 0
    return math.ceil(age / window) - 1


def counts(
    observations: Iterable[Observation], now: dt.datetime, window: dt.timedelta, windows: int
) -> list[tuple[int, int]]:
    """(negative, total) of window 0 (recent) through `windows` (the oldest baseline window)."""
    table = [[0, 0] for _ in range(windows + 1)]
    for observation in observations:
        index = window_index(observation.at, now, window)
        if 0 <= index <= windows:
            table[index][0] += observation.negative
            table[index][1] += 1
    return [(negative, total) for negative, total in table]


def _spread(values: Sequence[int]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((n - mean) ** 2 for n in values) / len(values))


def baseline(history: Sequence[tuple[int, int]]) -> Baseline:
    """Mean and (population) standard deviation of negatives (and of all messages) per window; share.

    The share is pooled: all negatives over all messages of the history.
    """
    if not history:
        return Baseline(mean=0.0, std=0.0, share=0.0, windows=0, messages=0)
    negatives = [negative for negative, _ in history]
    messages = sum(total for _, total in history)
    mean, std = _spread(negatives)
    total_mean, total_std = _spread([total for _, total in history])
    share = sum(negatives) / messages if messages else 0.0
    return Baseline(mean, std, share, len(history), messages, total_mean, total_std)


def threshold(base: Baseline, settings: SpikeSettings) -> float:
    """Negatives above this many make a spike by count."""
    return _limit(base.mean, base.std, settings)


def _limit(mean: float, std: float, settings: SpikeSettings) -> float:
    return mean + settings.sensitivity * max(std, math.sqrt(mean), settings.std_floor)


def share_z(share: float, total: int, usual: float) -> float:
    """How many standard errors a window's negative share is above the usual share (binomial).

    The usual share is kept off 0 and 1, so a first negative message after only happy ones is not
    infinitely surprising.
    """
    if total == 0:
        return 0.0
    usual = min(max(usual, SHARE_FLOOR), 1 - SHARE_FLOOR)
    return (share - usual) / math.sqrt(usual * (1 - usual) / total)


def judge(negative: int, total: int, base: Baseline, settings: SpikeSettings) -> tuple[bool, str]:
    """Whether a window with these counts is a spike against `base`, and why (in words)."""
    if negative < settings.min_count:
        return False, f"{negative} negative messages, fewer than {settings.min_count}"
    limit = threshold(base, settings)
    share = negative / total if total else 0.0
    reasons = []
    if negative > limit:
        reasons.append(
            f"{negative} negative messages in {settings.window_minutes:g} min, usually "
            f"{base.mean:.1f} ± {base.std:.1f} (alert above {limit:.1f})"
        )
    surprising = share_z(share, total, base.share) >= settings.sensitivity
    if share >= base.share + settings.share_margin and surprising:
        reasons.append(f"{share:.0%} of {total} messages negative, usually {base.share:.0%}")
    if not reasons:
        return False, f"{negative} negative messages, within the usual {limit:.1f} and {base.share:.0%}"
    return True, "; ".join(reasons)


def judge_volume(total: int, base: Baseline, settings: SpikeSettings) -> tuple[bool, str]:
    """Whether a window with `total` mentions is a spike by volume against `base`, and why (in words)."""
    if total < settings.min_count:
        return False, f"{total} mentions, fewer than {settings.min_count}"
    limit = _limit(base.total_mean, base.total_std, settings)
    if total <= limit:
        return False, f"{total} mentions, within the usual {limit:.1f}"
    return True, (
        f"{total} mentions in {settings.window_minutes:g} min, usually "
        f"{base.total_mean:.1f} ± {base.total_std:.1f} (alert above {limit:.1f})"
    )


def keyword_scope(name: str) -> str:
    """The scope of a tracked keyword."""
    return f"{KEYWORD_SCOPE}{name}"


def keyword_of(scope: str) -> str | None:
    """The tracked keyword a scope is about (None for a channel or "all")."""
    return scope[len(KEYWORD_SCOPE) :] if scope.startswith(KEYWORD_SCOPE) else None


def _in_scope(observation: Observation, scope: str) -> bool:
    if scope == ALL:
        return True
    keyword = keyword_of(scope)
    return observation.channel == scope if keyword is None else keyword in observation.keywords


def evaluate(
    observations: Sequence[Observation],
    now: dt.datetime,
    settings: SpikeSettings,
    scope: str = ALL,
    since: dt.datetime | None = None,
    volume: bool = False,
) -> Verdict:
    """The recent window of `scope` (a channel, "all" or a keyword) against its history.

    `since` is when history begins (the first recorded message): older windows are not counted.
    `volume` also looks for a spike of all messages, whatever their mood (for keywords).
    """
    mine = [o for o in observations if _in_scope(o, scope)]
    window = settings.window
    windows = settings.baseline_windows
    if since is not None:  # only windows that lie wholly after the start of history
        windows = min(windows, max(0, int((now - since) // window) - 1))
    table = counts(mine, now, window, windows)
    negative, total = table[0]
    base = baseline(table[1:])
    spike, reason = judge(negative, total, base, settings)
    loud = False
    if volume:
        loud, why = judge_volume(total, base, settings)
        reason = (f"{reason}; {why}" if spike else why) if loud else reason
    start = now - window
    ids = tuple(
        o.message_id
        for o in sorted(mine, key=lambda o: (o.at, o.message_id))
        if (o.negative or loud) and window_index(o.at, now, window) == 0
    )
    return Verdict(scope, start, now, negative, total, base, spike or loud, reason, ids, loud)


def scopes(observations: Iterable[Observation], keywords: Iterable[str] = ()) -> list[str]:
    """Every channel seen, then "all", then each tracked keyword."""
    return [*sorted({o.channel for o in observations}), ALL, *(keyword_scope(k) for k in keywords)]


def evaluate_all(
    observations: Sequence[Observation],
    now: dt.datetime,
    settings: SpikeSettings,
    since: dt.datetime | None = None,
    keywords: Sequence[str] = (),
    volume: bool = False,
) -> list[Verdict]:
    """A verdict per channel, one over all channels, and one per tracked keyword (`volume`: by volume too)."""
    return [
        evaluate(observations, now, settings, scope, since, volume and keyword_of(scope) is not None)
        for scope in scopes(observations, keywords)
    ]


def cooled_down(last_alert: dt.datetime | None, now: dt.datetime, settings: SpikeSettings) -> bool:
    """Whether a scope may alert again."""
    return last_alert is None or now - last_alert >= settings.cooldown
