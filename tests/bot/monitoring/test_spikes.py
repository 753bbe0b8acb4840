"""Spike detection on generated time series whose spikes (and non-spikes) are known."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
import random

import pytest

from bot.monitoring.config import SpikeSettings
from bot.monitoring.spikes import (
    Observation,
    baseline,
    cooled_down,
    counts,
    evaluate,
    evaluate_all,
    judge,
    judge_volume,
    keyword_of,
    keyword_scope,
    window_index,
)

NOW = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.timezone.utc)
SETTINGS = SpikeSettings()  # 15-minute windows, 24 hours of baseline, 4 sigma, at least 5, +25 points
WINDOW = SETTINGS.window
ids = itertools.count(1)


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means here."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def window_messages(
    rng: random.Random, end: dt.datetime, negative: int, other: int, channel: str = "messenger"
) -> list[Observation]:
    """`negative` + `other` messages at random moments of the window that ends at `end`."""
    found = []
    for is_negative in [True] * negative + [False] * other:
        at = end - WINDOW * rng.uniform(0.001, 0.999)
        found.append(Observation(next(ids), channel, at, is_negative))
    return found


def steady(
    rng: random.Random,
    end: dt.datetime,
    hours: float,
    negative_mean: float,
    other_mean: float,
    channel: str = "messenger",
) -> list[Observation]:
    """Random (Poisson) traffic at a steady rate for `hours` up to `end`."""
    found = []
    for i in range(int(hours * 60 / 15)):
        found += window_messages(
            rng, end - WINDOW * i, poisson(rng, negative_mean), poisson(rng, other_mean), channel
        )
    return found


def test_a_steady_high_volume_never_alerts():
    rng = random.Random(7)
    # Two days of 20 negative and 20 other messages per 15 minutes, looked at every 5 minutes for 12 hours.
    history = steady(rng, NOW, 48, negative_mean=20, other_mean=20)
    moments = [NOW - dt.timedelta(minutes=5 * i) for i in range(144)]
    verdicts = [evaluate(history, moment, SETTINGS) for moment in moments]
    assert not [v for v in verdicts if v.spike], [v.reason for v in verdicts if v.spike]
    assert min(v.negative for v in verdicts) >= SETTINGS.min_count  # loud enough to be tempting


def test_a_jump_in_negative_messages_alerts_with_the_messages_that_made_it():
    rng = random.Random(11)
    history = steady(rng, NOW - WINDOW, 24, negative_mean=6, other_mean=30)
    burst = window_messages(rng, NOW, negative=25, other=30)
    verdict = evaluate(history + burst, NOW, SETTINGS)
    assert verdict.spike and verdict.negative == 25 and verdict.total == 55
    assert "25 negative messages" in verdict.reason
    assert set(verdict.message_ids) == {o.message_id for o in burst if o.negative}
    assert 4 < verdict.baseline.mean < 8 and verdict.baseline.windows == 96


def test_messages_turning_negative_at_an_ordinary_volume_alert_by_share():
    rng = random.Random(3)
    # Busy and mostly happy: 30 negative of 150 per window; then 40 messages, 30 of them negative.
    history = steady(rng, NOW - WINDOW, 24, negative_mean=30, other_mean=120)
    verdict = evaluate(history + window_messages(rng, NOW, negative=30, other=10), NOW, SETTINGS)
    assert verdict.spike
    assert "75% of 40 messages negative, usually 20%" in verdict.reason
    assert "usually 30" not in verdict.reason  # not a spike by count: 30 is an ordinary number here


def test_a_few_negative_messages_are_not_a_spike_even_after_silence():
    rng = random.Random(5)
    history = steady(rng, NOW - WINDOW, 24, negative_mean=0.2, other_mean=2)
    quiet = evaluate(history + window_messages(rng, NOW, negative=4, other=0), NOW, SETTINGS)
    assert not quiet.spike and "fewer than 5" in quiet.reason
    loud = evaluate(history + window_messages(rng, NOW, negative=6, other=0), NOW, SETTINGS)
    assert loud.spike


def test_a_spike_on_one_channel_alerts_there_even_when_the_whole_is_steady():
    rng = random.Random(9)
    messenger = steady(rng, NOW, 24, negative_mean=40, other_mean=200)
    instagram = steady(rng, NOW - WINDOW, 24, negative_mean=1, other_mean=10)
    instagram += window_messages(rng, NOW, negative=12, other=10, channel="instagram")
    verdicts = {v.scope: v for v in evaluate_all(messenger + instagram, NOW, SETTINGS)}
    assert list(verdicts) == ["instagram", "messenger", "all"]
    assert verdicts["instagram"].spike
    assert not verdicts["messenger"].spike
    assert not verdicts["all"].spike  # 12 more negatives drown in 40 ± 6 a window
    assert verdicts["all"].negative == verdicts["instagram"].negative + verdicts["messenger"].negative


def test_a_spike_everywhere_at_once_alerts_overall_even_when_no_channel_does():
    rng = random.Random(13)
    channels = ["messenger", "instagram", "twitter"]
    history = [o for c in channels for o in steady(rng, NOW - WINDOW, 24, 1, 8, channel=c)]
    # Four negatives on each channel: under min_count on every one, twelve together.
    burst = [o for c in channels for o in window_messages(rng, NOW, 4, 4, channel=c)]
    verdicts = {v.scope: v for v in evaluate_all(history + burst, NOW, SETTINGS)}
    assert [s for s, v in verdicts.items() if v.spike] == ["all"]


def test_history_starts_with_the_first_recorded_message():
    rng = random.Random(17)
    # Two hours of busy traffic before this window, nothing recorded before that (a new deployment).
    history = steady(rng, NOW - WINDOW, 2, negative_mean=20, other_mean=20)
    burst = window_messages(rng, NOW, negative=30, other=20)
    since = min(o.at for o in history)
    honest = evaluate(history + burst, NOW, SETTINGS, since=since)
    assert honest.baseline.windows == 7 and not honest.spike  # 30 is within 20 ± 4 sigma
    # Counting the 22 unrecorded hours as silence would make it look like a spike.
    assert evaluate(history + burst, NOW, SETTINGS).spike


def test_windows_end_now_and_include_their_end():
    assert window_index(NOW, NOW, WINDOW) == 0
    assert window_index(NOW - WINDOW, NOW, WINDOW) == 0
    assert window_index(NOW - WINDOW - dt.timedelta(microseconds=1), NOW, WINDOW) == 1
    assert window_index(NOW + dt.timedelta(seconds=1), NOW, WINDOW) == -1
    observations = [
        Observation(1, "x", NOW - dt.timedelta(minutes=1), True),
        Observation(2, "x", NOW - dt.timedelta(minutes=16), False),
        Observation(3, "x", NOW - dt.timedelta(minutes=46), True),
        Observation(4, "x", NOW - dt.timedelta(hours=5), True),  # beyond the windows asked for
    ]
    assert counts(observations, NOW, WINDOW, 3) == [(1, 1), (0, 1), (0, 0), (1, 1)]


def test_baseline_mean_deviation_and_share():
    base = baseline([(2, 10), (4, 10), (6, 20)])
    assert base.mean == 4 and base.share == pytest.approx(12 / 40)
    assert base.std == pytest.approx(math.sqrt(8 / 3))
    assert baseline([]).windows == 0


@pytest.mark.parametrize(
    ("negative", "total", "spike"),
    [
        (11, 200, True),  # mean 4 + 3 x spread max(std 0, sqrt(4), floor 1) = 10: above
        (10, 200, False),  # not above, and 5% is an ordinary share
        (9, 12, True),  # not above 10 by count, but 75% against 30%: 3.4 standard errors
        (9, 16, False),  # 56% is 25 points above 30%, but of 16 messages: only 2.3 standard errors
        (10, 10, True),  # 100% of 10: 4.8 standard errors
        (4, 4, False),  # 100%, but fewer than min_count
    ],
)
def test_judge(negative, total, spike):
    base = baseline([(4, 13), (4, 13), (4, 14)])  # no deviation at all: the floor is sqrt(4) = 2
    outcome, reason = judge(negative, total, base, SpikeSettings(sensitivity=3.0))
    assert outcome is spike, reason


def test_cooldown():
    assert cooled_down(None, NOW, SETTINGS)
    assert not cooled_down(NOW - dt.timedelta(minutes=59), NOW, SETTINGS)
    assert cooled_down(NOW - dt.timedelta(minutes=60), NOW, SETTINGS)


def mentions(
    rng: random.Random, end: dt.datetime, keyword: str, negative: int, other: int
) -> list[Observation]:
    """Public posts naming `keyword` in the window that ends at `end`."""
    named = frozenset({keyword})
    return [
        dataclasses.replace(o, channel="twitter", keywords=named)
        for o in window_messages(rng, end, negative, other)
    ]


def test_a_keyword_is_a_scope_of_the_messages_naming_it():
    rng = random.Random(21)
    # A busy Twitter with a steady share of negatives; North Knit is hardly ever named.
    history = steady(rng, NOW - WINDOW, 24, negative_mean=6, other_mean=10, channel="twitter")
    history += mentions(rng, NOW - 30 * WINDOW, "North Knit", 0, 1)
    burst = mentions(rng, NOW, "North Knit", 6, 0) + window_messages(rng, NOW, 0, 10, "twitter")
    verdicts = {
        v.scope: v for v in evaluate_all(history + burst, NOW, SETTINGS, keywords=["North Knit", "Loom & Co"])
    }
    assert list(verdicts) == ["twitter", "all", "keyword:North Knit", "keyword:Loom & Co"]
    assert [scope for scope, v in verdicts.items() if v.spike] == ["keyword:North Knit"]
    knit = verdicts["keyword:North Knit"]
    assert (knit.negative, knit.total) == (6, 6) and "6 negative messages" in knit.reason
    assert set(knit.message_ids) == {o.message_id for o in burst if o.keywords}
    assert not knit.volume  # not asked for
    assert keyword_of("keyword:North Knit") == "North Knit" and keyword_of("twitter") is None


def test_a_keyword_spikes_by_volume_whatever_the_mood():
    rng = random.Random(23)
    history = []
    for i in range(1, 97):  # one or two friendly mentions a window for a day
        history += mentions(rng, NOW - i * WINDOW, "Loom & Co", 0, 1 + i % 2)
    burst = mentions(rng, NOW, "Loom & Co", 0, 14)
    scope = keyword_scope("Loom & Co")
    calm = evaluate(history + burst, NOW, SETTINGS, scope)
    assert not calm.spike and "0 negative messages" in calm.reason
    loud = evaluate(history + burst, NOW, SETTINGS, scope, volume=True)
    assert loud.spike and loud.volume and loud.negative == 0
    assert loud.reason.startswith("14 mentions in 15 min, usually 1.5 ± 0.5 (alert above")
    assert set(loud.message_ids) == {o.message_id for o in burst}  # every mention, not only negatives
    ordinary = evaluate(history + mentions(rng, NOW, "Loom & Co", 0, 3), NOW, SETTINGS, scope, volume=True)
    assert not ordinary.spike


def test_volume_judging():
    base = baseline([(0, 2), (0, 2), (0, 2)])  # 2 a window, no deviation: the spread is sqrt(2)
    assert base.total_mean == 2 and base.total_std == 0
    assert judge_volume(7, base, SETTINGS) == (False, "7 mentions, within the usual 7.7")
    assert judge_volume(8, base, SETTINGS)[0]
    assert judge_volume(4, baseline([]), SETTINGS) == (False, "4 mentions, fewer than 5")
