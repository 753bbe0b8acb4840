"""What the benchmarks share to summarise timings."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (a whole number, 0..100) of `values`, interpolated between the closest ranks.

    `statistics.quantiles`' inclusive method (numpy's default), so p50 is the median of an even sample
    too (a closest-rank lookup must round half ranks one way or the other). `values` must not be empty.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100 or q != int(q):
        raise ValueError(f"a percentile is a whole number from 0 to 100, not {q!r}")
    if len(values) == 1:  # statistics.quantiles() wants two or more
        return float(values[0])
    if q in (0, 100):  # it gives only the inner cut points
        return float(min(values) if q == 0 else max(values))
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
