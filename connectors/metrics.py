"""Counters of what the connectors did, for logs now and a Prometheus endpoint later."""

from __future__ import annotations

from collections import Counter

COUNTS: Counter[tuple[str, ...]] = Counter()


def count(name: str, *labels: str) -> None:
    """Add one to the counter `name` with these labels (e.g. platform, error code)."""
    COUNTS[(name, *labels)] += 1


def value(name: str, *labels: str) -> int:
    """The current value of a counter."""
    return COUNTS[(name, *labels)]
