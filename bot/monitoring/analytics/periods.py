"""Date ranges and time buckets every analytics query shares, and percentiles.

Every query is bounded by a date range (UTC days, `to` included) and works on PostgreSQL and SQLite:
time buckets use each backend's own truncation (`date_trunc` / `strftime`), percentiles are computed
here.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func
from sqlalchemy.ext.asyncio import AsyncSession

DEFAULT_DAYS = 7
MAX_DAYS = 366  # a longer request is cut to the last MAX_DAYS days up to its `to` date
HOURLY_UP_TO_DAYS = 2  # ranges of at most this many days are bucketed by hour, longer ones by day
EARLIEST = dt.date(1970, 1, 1)  # dates outside EARLIEST .. a year from today are typing mistakes (and
LATEST_AHEAD = dt.timedelta(days=366)  # 9999-12-31 + 1 day would overflow the range arithmetic)


class RangeError(ValueError):
    """A date range that cannot be used; the message says why, for the person who typed it."""


@dataclass(frozen=True)
class DateRange:
    """Whole UTC days from `first` to `last` (both included); `capped` when a longer range was cut."""

    first: dt.date
    last: dt.date
    capped: bool = False

    @classmethod
    def parse(cls, first: str | None, last: str | None, today: dt.date) -> DateRange:
        """From the `from` and `to` query parameters (ISO dates; blank means the last 7 days)."""
        end = _within("to", _date("to", last) or today, today)
        start = _within("from", _date("from", first) or end - dt.timedelta(days=DEFAULT_DAYS - 1), today)
        if start > end:
            raise RangeError(f"'from' ({start.isoformat()}) is after 'to' ({end.isoformat()})")
        if (end - start).days + 1 > MAX_DAYS:
            return cls(end - dt.timedelta(days=MAX_DAYS - 1), end, capped=True)
        return cls(start, end)

    @property
    def start(self) -> dt.datetime:
        """The first instant in the range."""
        return dt.datetime.combine(self.first, dt.time(), dt.timezone.utc)

    @property
    def end(self) -> dt.datetime:
        """The first instant after the range."""
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), dt.timezone.utc)

    @property
    def days(self) -> int:
        """How many days the range has."""
        return (self.last - self.first).days + 1

    @property
    def bucket(self) -> str:
        """'hour' for short ranges, else 'day'."""
        return "hour" if self.days <= HOURLY_UP_TO_DAYS else "day"

    def buckets(self) -> list[dt.datetime]:
        """The start of every bucket in the range."""
        step = dt.timedelta(hours=1) if self.bucket == "hour" else dt.timedelta(days=1)
        count = int((self.end - self.start) / step)
        return [self.start + i * step for i in range(count)]

    def query(self) -> str:
        """The range as query parameters."""
        return f"from={self.first.isoformat()}&to={self.last.isoformat()}"


def _date(name: str, text: str | None) -> dt.date | None:
    if text is None or not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        shown = text.strip()[:40]
        raise RangeError(f"'{name}' must be a date like 2026-11-26, not {shown!r}") from None


def _within(name: str, day: dt.date, today: dt.date) -> dt.date:
    if not EARLIEST <= day <= today + LATEST_AHEAD:
        raise RangeError(
            f"'{name}' ({day.isoformat()}) must be between {EARLIEST.isoformat()}"
            f" and {(today + LATEST_AHEAD).isoformat()}"
        )
    return day


def within(column: Any, period: DateRange) -> ColumnElement[bool]:
    """`column` falls inside the range."""
    return and_(column >= period.start, column < period.end)


def bucket_of(session: AsyncSession, column: Any, bucket: str) -> Any:
    """SQL for the start of the hour or day of a UTC timestamp column."""
    if session.bind.dialect.name == "postgresql":
        return func.date_trunc(bucket, func.timezone("UTC", column))
    # SQLite keeps UTCDateTime as 'YYYY-MM-DD HH:MM:SS.ffffff' text in UTC.
    return func.strftime("%Y-%m-%d %H:00:00" if bucket == "hour" else "%Y-%m-%d 00:00:00", column)


def as_bucket(value: dt.datetime | str) -> dt.datetime:
    """A bucket as either backend returns it, as an aware UTC datetime."""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment


def stamp(moment: dt.datetime, bucket: str) -> str:
    """A bucket's label: the hour or the day."""
    return moment.strftime("%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d")


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` quantile (a whole percent, 0 to 1), interpolated between the closest ranks.

    `statistics.quantiles`' inclusive method (numpy's default): the median of two values is their mean,
    one value is every quantile of itself. No values, or a share outside 0..1, is a ValueError.
    """
    percent = share * 100
    if not 0 <= share <= 1 or abs(percent - round(percent)) > 1e-9:
        raise ValueError(f"a percentile share is a whole percent from 0 to 1, not {share!r}")
    if not values:
        raise ValueError("percentile of nothing")
    if len(values) == 1:  # statistics.quantiles() wants two or more
        return float(values[0])
    if share in (0, 1):  # it gives only the inner cut points
        return float(min(values) if share == 0 else max(values))
    return statistics.quantiles(values, n=100, method="inclusive")[round(percent) - 1]


Table = tuple[list[str], list[list[Any]]]
