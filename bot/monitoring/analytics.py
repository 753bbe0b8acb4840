"""Analytics for supervisors: what customers wrote, how they felt, what the bot and the people achieved.

Every query is bounded by a date range (UTC days, `to` included) and works on PostgreSQL and SQLite:
time buckets use each backend's own truncation (`date_trunc` / `strftime`), percentiles are computed
here. Results are small frozen dataclasses; `table()` gives the rows the CSV export writes.
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import Database
from bot.storage.models import Agent, AgentMessage, HandoffTicket, LoggedMessage, PhotoLookup

logger = logging.getLogger(__name__)

DEFAULT_DAYS = 7
MAX_DAYS = 366  # a longer request is cut to the last MAX_DAYS days up to its `to` date
HOURLY_UP_TO_DAYS = 2  # ranges of at most this many days are bucketed by hour, longer ones by day
TOP_INTENTS = 12
SENTIMENTS = ("negative", "neutral", "positive")
PHOTO_OUTCOMES = ("confident", "several", "none", "bad_image")
PHOTO_HITS = ("confident", "several")  # the customer was shown the product (or a short list with it)
OUTSIDE_DESK = "outside the desk"
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


def _bucket_of(session: AsyncSession, column: Any, bucket: str) -> Any:
    """SQL for the start of the hour or day of a UTC timestamp column."""
    if session.bind.dialect.name == "postgresql":
        return func.date_trunc(bucket, func.timezone("UTC", column))
    # SQLite keeps UTCDateTime as 'YYYY-MM-DD HH:MM:SS.ffffff' text in UTC.
    return func.strftime("%Y-%m-%d %H:00:00" if bucket == "hour" else "%Y-%m-%d 00:00:00", column)


def _as_bucket(value: dt.datetime | str) -> dt.datetime:
    """A bucket as either backend returns it, as an aware UTC datetime."""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment


def _stamp(moment: dt.datetime, bucket: str) -> str:
    return moment.strftime("%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d")


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` quantile with linear interpolation between the closest ranks (one value: itself)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of nothing")
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


Table = tuple[list[str], list[list[Any]]]


@dataclass(frozen=True)
class Volume:
    """Customer messages per bucket and series (a channel; mentions are their own series)."""

    bucket: str
    buckets: list[dt.datetime]
    counts: dict[str, list[int]]

    @property
    def total(self) -> int:
        """All messages in the range."""
        return sum(sum(values) for values in self.counts.values())

    def table(self) -> Table:
        """One row per bucket and series."""
        rows = [
            [_stamp(moment, self.bucket), series, values[i]]
            for series, values in sorted(self.counts.items())
            for i, moment in enumerate(self.buckets)
        ]
        return ["bucket_start_utc", "channel", "messages"], rows


def _series(kind: str, channel: str) -> str:
    return channel if kind == "dm" else f"{channel} mentions"


async def _by_bucket(db: Database, period: DateRange, keys: list[Any], values: list[Any]) -> list[Any]:
    """Customer messages grouped by bucket and `keys`: rows of (bucket index, *keys, *values)."""
    index = {moment: i for i, moment in enumerate(period.buckets())}
    async with db.sessions() as session:
        bucket = _bucket_of(session, LoggedMessage.at, period.bucket).label("bucket")
        rows = await session.execute(
            select(bucket, *keys, *values).where(within(LoggedMessage.at, period)).group_by(bucket, *keys)
        )
        return [(index[_as_bucket(moment)], *rest) for moment, *rest in rows]


async def volume(db: Database, period: DateRange) -> Volume:
    """Messages by channel over time."""
    buckets = period.buckets()
    counts: dict[str, list[int]] = {}
    keys = [LoggedMessage.kind, LoggedMessage.channel]
    for i, kind, channel, count in await _by_bucket(db, period, keys, [func.count()]):
        counts.setdefault(_series(kind, channel), [0] * len(buckets))[i] += count
    return Volume(period.bucket, buckets, counts)


@dataclass(frozen=True)
class Sentiment:
    """Messages per sentiment label per bucket, and the mean score (None where there were none)."""

    bucket: str
    buckets: list[dt.datetime]
    counts: dict[str, list[int]]  # label -> counts per bucket
    mean: list[float | None]

    def table(self) -> Table:
        """One row per bucket."""
        rows = []
        for i, moment in enumerate(self.buckets):
            total = sum(self.counts[label][i] for label in SENTIMENTS)
            shares = [round(self.counts[label][i] / total, 4) if total else None for label in SENTIMENTS]
            mean = None if self.mean[i] is None else round(self.mean[i], 4)
            rows.append([_stamp(moment, self.bucket), total, *(self.counts[s][i] for s in SENTIMENTS)])
            rows[-1] += [*shares, mean]
        header = ["bucket_start_utc", "messages", *SENTIMENTS, *(f"{s}_share" for s in SENTIMENTS)]
        return [*header, "mean_score"], rows


async def sentiment(db: Database, period: DateRange) -> Sentiment:
    """Sentiment over time: counts per label and the mean score of each bucket."""
    buckets = period.buckets()
    counts = {label: [0] * len(buckets) for label in SENTIMENTS}
    sums = [0.0] * len(buckets)
    values = [func.count(), func.sum(LoggedMessage.sentiment_score)]
    for i, label, count, total in await _by_bucket(db, period, [LoggedMessage.sentiment_label], values):
        counts[label if label in counts else "neutral"][i] += count
        sums[i] += float(total or 0.0)
    sizes = [sum(counts[label][i] for label in SENTIMENTS) for i in range(len(buckets))]
    mean = [sums[i] / sizes[i] if sizes[i] else None for i in range(len(buckets))]
    return Sentiment(period.bucket, buckets, counts, mean)


@dataclass(frozen=True)
class Ranking:
    """Labels with a count each, largest first."""

    label: str
    items: list[tuple[str, int]]

    def table(self) -> Table:
        """One row per label."""
        return [self.label, "messages"], [[name, count] for name, count in self.items]


async def top_intents(db: Database, period: DateRange, limit: int = TOP_INTENTS) -> Ranking:
    """The most frequent intents of customer messages."""
    count = func.count().label("n")
    async with db.sessions() as session:
        rows = await session.execute(
            select(LoggedMessage.intent, count)
            .where(within(LoggedMessage.at, period), LoggedMessage.intent.is_not(None))
            .group_by(LoggedMessage.intent)
            .order_by(count.desc(), LoggedMessage.intent)
            .limit(limit)
        )
        return Ranking("intent", [(intent, n) for intent, n in rows])


@dataclass(frozen=True)
class Containment:
    """Conversations with customer messages in the range, and how many of them went to a person."""

    by_channel: dict[str, tuple[int, int]]  # channel -> (conversations, handed over)

    @property
    def conversations(self) -> int:
        """All conversations in the range."""
        return sum(total for total, _ in self.by_channel.values())

    @property
    def handed_over(self) -> int:
        """Conversations with a handoff ticket opened in the range."""
        return sum(handed for _, handed in self.by_channel.values())

    @property
    def rate(self) -> float | None:
        """Share of conversations the bot handled alone (None without conversations)."""
        total = self.conversations
        return (total - self.handed_over) / total if total else None

    def table(self) -> Table:
        """One row per channel, then all channels."""
        rows = [
            [channel, total, total - handed, handed, round((total - handed) / total, 4) if total else None]
            for channel, (total, handed) in sorted(self.by_channel.items())
        ]
        rate = None if self.rate is None else round(self.rate, 4)
        rows.append(
            ["all", self.conversations, self.conversations - self.handed_over, self.handed_over, rate]
        )
        return ["channel", "conversations", "bot_only", "handed_over", "containment_rate"], rows


async def containment(db: Database, period: DateRange) -> Containment:
    """Conversations resolved without a human: customer messages in the range and no ticket in it."""
    conversations = (
        select(LoggedMessage.channel, LoggedMessage.conversation_id)
        .where(
            within(LoggedMessage.at, period),
            LoggedMessage.kind == "dm",
            LoggedMessage.conversation_id.is_not(None),
        )
        .distinct()
        .subquery()
    )
    ticket = exists().where(
        HandoffTicket.conversation_id == conversations.c.conversation_id,
        within(HandoffTicket.created_at, period),
    )
    async with db.sessions() as session:
        rows = await session.execute(
            select(conversations.c.channel, func.count(), func.sum(case((ticket, 1), else_=0))).group_by(
                conversations.c.channel
            )
        )
        return Containment({channel: (total, int(handed or 0)) for channel, total, handed in rows})


@dataclass(frozen=True)
class Handoffs:
    """Tickets opened in the range by reason, against the conversations of the range."""

    conversations: int
    reasons: list[tuple[str, int]]

    def table(self) -> Table:
        """One row per reason."""
        total = self.conversations
        rows = [[r, n, total, round(n / total, 4) if total else None] for r, n in self.reasons]
        return ["reason", "tickets", "conversations", "handoff_rate"], rows


async def handoffs(db: Database, period: DateRange) -> Handoffs:
    """Handoff rate by reason."""
    count = func.count().label("n")
    conversations = (await containment(db, period)).conversations
    async with db.sessions() as session:
        rows = await session.execute(
            select(HandoffTicket.reason, count)
            .where(within(HandoffTicket.created_at, period))
            .group_by(HandoffTicket.reason)
            .order_by(count.desc(), HandoffTicket.reason)
        )
        return Handoffs(conversations, [(reason, n) for reason, n in rows])


@dataclass(frozen=True)
class Timing:
    """One agent's durations in seconds (median and 90th percentile)."""

    agent: str
    seconds: list[float]

    @property
    def median(self) -> float:
        """The middle duration."""
        return statistics.median(self.seconds)

    @property
    def p90(self) -> float:
        """Nine in ten were at most this long."""
        return percentile(self.seconds, 0.9)


@dataclass(frozen=True)
class Timings:
    """Durations per agent, by name."""

    measure: str
    agents: list[Timing]

    def table(self) -> Table:
        """One row per agent."""
        rows = [[t.agent, len(t.seconds), round(t.median, 1), round(t.p90, 1)] for t in self.agents]
        return ["agent", "tickets", f"{self.measure}_median_s", f"{self.measure}_p90_s"], rows


async def _names(session: AsyncSession) -> dict[int, str]:
    return dict((await session.execute(select(Agent.id, Agent.display_name))).all())


def _timings(measure: str, durations: dict[str, list[float]]) -> Timings:
    return Timings(measure, [Timing(name, values) for name, values in sorted(durations.items())])


async def first_response(db: Database, period: DateRange) -> Timings:
    """From handoff to the first reply a person sent, for tickets first answered in the range.

    The time belongs to whoever sent that first reply: the author of the first delivered desk reply,
    or the person outside the desk (Meta's inbox) who answered there.
    """
    async with db.sessions() as session:
        names = await _names(session)
        tickets = (
            await session.execute(
                select(
                    HandoffTicket.id,
                    HandoffTicket.created_at,
                    HandoffTicket.first_response_at,
                    HandoffTicket.assignee_id,
                    HandoffTicket.external_owner,
                ).where(within(HandoffTicket.first_response_at, period))
            )
        ).all()
        authors: dict[int, int] = {}
        replies = await session.execute(
            select(AgentMessage.ticket_id, AgentMessage.agent_id)
            .join(HandoffTicket, HandoffTicket.id == AgentMessage.ticket_id)
            .where(within(HandoffTicket.first_response_at, period), AgentMessage.status == "sent")
            .order_by(AgentMessage.created_at.desc(), AgentMessage.id.desc())
        )
        for ticket_id, agent_id in replies:
            authors[ticket_id] = agent_id  # the last one written wins: the earliest reply
    durations: dict[str, list[float]] = defaultdict(list)
    for ticket_id, created, answered, assignee, outside in tickets:
        author = authors.get(ticket_id, assignee)
        if ticket_id not in authors and outside:
            who = f"{OUTSIDE_DESK} ({outside})"
        else:
            who = names.get(author, "unknown") if author is not None else "unknown"
        durations[who].append(max(0.0, (answered - created).total_seconds()))
    return _timings("first_response", durations)


async def resolution(db: Database, period: DateRange) -> Timings:
    """From handoff to resolve, for tickets resolved in the range, by the person who resolved them."""
    async with db.sessions() as session:
        names = await _names(session)
        rows = await session.execute(
            select(HandoffTicket.created_at, HandoffTicket.resolved_at, HandoffTicket.resolved_by).where(
                within(HandoffTicket.resolved_at, period)
            )
        )
        durations: dict[str, list[float]] = defaultdict(list)
        for created, resolved, by in rows:
            who = names.get(by, "unknown") if by is not None else "unknown"
            durations[who].append(max(0.0, (resolved - created).total_seconds()))
    return _timings("resolution", durations)


@dataclass(frozen=True)
class Rating:
    """Ratings of one group: how many, and their mean (None without ratings)."""

    group: str
    scores: list[int]

    @property
    def mean(self) -> float | None:
        """The average rating."""
        return statistics.fmean(self.scores) if self.scores else None


@dataclass(frozen=True)
class Csat:
    """CSAT (1-5) given in the range, by agent and for humans versus the bot."""

    by_agent: list[Rating]
    human: Rating
    bot: Rating

    def table(self) -> Table:
        """One row per agent, then humans and the bot."""
        rows = [
            [kind, r.group, len(r.scores), None if r.mean is None else round(r.mean, 3)]
            for kind, ratings in (("agent", self.by_agent), ("handled_by", [self.human, self.bot]))
            for r in ratings
        ]
        return ["group", "name", "ratings", "mean_csat"], rows


async def csat(db: Database, period: DateRange) -> Csat:
    """Ratings by the person who resolved the conversation.

    The assistant asks for a rating only after a person resolved a conversation, so the bot has no
    ratings of its own (yet): its row says so rather than showing a made-up number.
    """
    async with db.sessions() as session:
        names = await _names(session)
        rows = await session.execute(
            select(HandoffTicket.resolved_by, HandoffTicket.csat_score).where(
                within(HandoffTicket.csat_at, period), HandoffTicket.csat_score.is_not(None)
            )
        )
        scores: dict[str, list[int]] = defaultdict(list)
        for by, score in rows:
            scores[names.get(by, "unknown") if by is not None else "unknown"].append(score)
    everyone = [score for values in scores.values() for score in values]
    by_agent = [Rating(name, values) for name, values in sorted(scores.items())]
    return Csat(by_agent, Rating("human", everyone), Rating("bot", []))


@dataclass(frozen=True)
class PhotoHits:
    """Photo lookups in the range by outcome."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        """Every lookup."""
        return sum(self.counts.values())

    @property
    def rate(self) -> float | None:
        """Share of lookups that showed the product or a short list (None without lookups)."""
        return sum(self.counts.get(o, 0) for o in PHOTO_HITS) / self.total if self.total else None

    def table(self) -> Table:
        """One row per outcome."""
        total = self.total
        rows = [
            [o, self.counts.get(o, 0), round(self.counts.get(o, 0) / total, 4) if total else None]
            for o in self.outcomes()
        ]
        return ["outcome", "lookups", "share"], rows

    def outcomes(self) -> list[str]:
        """The known outcomes in order, then any others."""
        return [*PHOTO_OUTCOMES, *sorted(set(self.counts) - set(PHOTO_OUTCOMES))]


async def photo_hits(db: Database, period: DateRange) -> PhotoHits:
    """Photo-lookup outcomes."""
    async with db.sessions() as session:
        rows = await session.execute(
            select(PhotoLookup.outcome, func.count())
            .where(within(PhotoLookup.at, period))
            .group_by(PhotoLookup.outcome)
        )
        return PhotoHits(dict(rows.all()))


async def record_photo_lookup(
    db: Database,
    conversation_id: str,
    channel: str,
    outcome: str,
    top_score: float | None = None,
    product_id: int | None = None,
) -> None:
    """Remember one customer photo looked up in the catalogue (for the hit rate)."""
    if outcome not in PHOTO_OUTCOMES:
        raise ValueError(f"unknown photo lookup outcome {outcome!r}")
    async with db.sessions() as session, session.begin():
        session.add(
            PhotoLookup(
                conversation_id=conversation_id[:128],
                channel=channel[:20],
                outcome=outcome,
                top_score=top_score,
                product_id=product_id,
            )
        )
