"""The benchmarks' percentiles (bench/stats.py, on statistics.quantiles)."""

from __future__ import annotations

import statistics

import pytest

from bench.stats import percentile


@pytest.mark.parametrize("values", [[1.0, 2.0], [1.0, 2.0, 3.0, 4.0], [4.0, 1.0, 3.0, 2.0, 9.0, 7.0]])
def test_p50_is_the_median(values):
    """The old closest-rank lookup rounded half ranks to even: p50 of 1, 2 was 1 but of 1, 2, 3, 4 was 3."""
    assert percentile(values, 50) == statistics.median(values)


def test_percentiles_interpolate_and_keep_to_the_sample():
    timings = [float(ms) for ms in range(1, 101)]  # 1 .. 100 ms
    assert (percentile(timings, 95), percentile(timings, 99)) == (pytest.approx(95.05), pytest.approx(99.01))
    assert percentile(timings, 0) == 1.0 and percentile(timings, 100) == 100.0
    assert percentile([0.25], 99) == 0.25


@pytest.mark.parametrize(("values", "q"), [([], 50), ([1.0, 2.0], 101), ([1.0, 2.0], -1), ([1.0, 2.0], 99.9)])
def test_no_values_or_a_percentile_outside_0_to_100_is_an_error(values, q):
    with pytest.raises(ValueError):
        percentile(values, q)
