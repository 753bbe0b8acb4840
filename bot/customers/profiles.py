"""Customer profiles, cached in `customer_profiles`: looked up by the desk and by ticket creation.

Never on the Rasa server's per-message path. A missing or expired profile is fetched once (with a short
timeout) and stored, a failure too (with a shorter expiry), so a forbidden profile is not asked again on
every page view. X's profiles are not fetched: X's webhook carries the sender's user object, and the
escalation action stores it (`remember`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError

from bot.customers.const import (
    FAILED,
    FAILURE_TTL,
    MAX_TEXT,
    OK,
    PROFILE_TTL,
    RENEW_AFTER,
    X_DEFAULT_PICTURE,
)
from bot.customers.graph_profiles import FetchedProfile, GraphProfiles, ProfileUnavailable
from bot.storage.db import Database
from bot.storage.models import CustomerProfile, utcnow

logger = logging.getLogger(__name__)
Key = tuple[str, str]  # (channel, platform user id)


@dataclass(frozen=True)
class ProfileExpiry:
    """How long a profile is trusted (desk.yml `customer_profiles`): names and pictures change."""

    refresh_days: float = PROFILE_TTL.days  # a good profile is asked again after this
    retry_hours: float = FAILURE_TTL.total_seconds() / 3600  # a refused or unanswered one, after this

    def __post_init__(self) -> None:
        for name in ("refresh_days", "retry_hours"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(
                    f"desk.yml customer_profiles.{name} must be a positive number, not {value!r}"
                )

    @property
    def ttl(self) -> dt.timedelta:
        """The life of a good profile."""
        return dt.timedelta(days=self.refresh_days)

    @property
    def failure_ttl(self) -> dt.timedelta:
        """The life of a failure (so a forbidden profile is not asked on every page view)."""
        return dt.timedelta(hours=self.retry_hours)


@dataclass(frozen=True)
class Profile:
    """What the desk shows of a customer: name, then @handle, then the platform id."""

    channel: str
    user_id: str
    name: str | None = None
    handle: str | None = None
    picture_url: str | None = None
    status: str = OK
    fetched_at: dt.datetime | None = None  # None: never stored

    @property
    def label(self) -> str:
        """The best name to show."""
        return self.name or (f"@{self.handle}" if self.handle else self.user_id)


def _cut(value: str | None) -> str | None:
    return value.strip()[:MAX_TEXT] or None if value else None


class CustomerProfiles:
    """The cache in front of the platforms' profile APIs."""

    def __init__(
        self,
        database: Database,
        graph: GraphProfiles | None,
        expiry: ProfileExpiry = ProfileExpiry(),
    ) -> None:
        self.db = database
        self.graph = graph
        self.ttl = expiry.ttl
        self.failure_ttl = expiry.failure_ttl

    def _fresh(self, profile: Profile, now: dt.datetime) -> bool:
        if profile.fetched_at is None:
            return False
        return now - profile.fetched_at < (self.ttl if profile.status == OK else self.failure_ttl)

    async def cached(self, keys: Iterable[Key]) -> dict[Key, Profile]:
        """The stored profiles of these customers, fresh or not."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        async with self.db.sessions() as session:
            rows = await session.scalars(
                select(CustomerProfile).where(
                    tuple_(CustomerProfile.channel, CustomerProfile.user_id).in_(wanted)
                )
            )
            return {(r.channel, r.user_id): _profile(r) for r in rows}

    async def many(self, keys: Iterable[Key]) -> dict[Key, Profile]:
        """Every customer's profile: cached ones as stored, missing or expired ones fetched now, at once."""
        wanted = list(dict.fromkeys(keys))
        rows = await self.cached(wanted)
        now = utcnow()
        stale = [
            k for k in wanted if self._can_fetch(k[0]) and (k not in rows or not self._fresh(rows[k], now))
        ]
        fetched = await asyncio.gather(*(self.refresh(*key) for key in stale))
        found = dict(rows)
        found.update({k: p for k, p in zip(stale, fetched, strict=True) if p is not None})
        return {key: found.get(key) or Profile(*key) for key in wanted}

    async def get(self, channel: str, user_id: str) -> Profile:
        """One customer's profile (never raises: an unknown customer is shown by their id)."""
        return (await self.many([(channel, user_id)]))[(channel, user_id)]

    def _can_fetch(self, channel: str) -> bool:
        return self.graph is not None and self.graph.handles(channel)

    async def refresh(self, channel: str, user_id: str) -> Profile | None:
        """Ask the platform again and store the answer; a failure is stored too (the old name is kept)."""
        assert self.graph is not None
        try:
            fetched: FetchedProfile | None = await self.graph.fetch(channel, user_id)
        except ProfileUnavailable as err:
            logger.info("no %s profile for %s: %s", channel, user_id, err)
            fetched = None
        except Exception:  # a profile is an extra: the page (or the ticket) goes on without it
            logger.exception("%s profile of %s could not be fetched", channel, user_id)
            fetched = None
        try:
            return await self._store(channel, user_id, fetched)
        except Exception:
            logger.exception("%s profile of %s could not be stored", channel, user_id)
            return (
                Profile(channel, user_id, fetched.name, fetched.handle, fetched.picture_url)
                if fetched
                else None
            )

    async def renew(self, channel: str, user_id: str) -> Profile | None:
        """A fresh profile after its picture URL stopped working (Meta's expire), at most every RENEW_AFTER.

        None when this channel's profiles are not fetched, or it was fetched too recently to ask again.
        """
        if not self._can_fetch(channel):
            return None
        stored = (await self.cached([(channel, user_id)])).get((channel, user_id))
        if (
            stored is not None
            and stored.fetched_at is not None
            and utcnow() - stored.fetched_at < RENEW_AFTER
        ):
            return None
        return await self.refresh(channel, user_id)

    async def remember(
        self, channel: str, user_id: str, name: str | None, handle: str | None, picture_url: str | None = None
    ) -> None:
        """Store a profile the platform sent with a message (X's webhook carries the sender's)."""
        if picture_url and X_DEFAULT_PICTURE in picture_url:
            picture_url = None  # X's egg for someone without a picture says nothing about them
        if name or handle:
            await self._store(channel, user_id, FetchedProfile(name, handle, picture_url))

    async def _store(self, channel: str, user_id: str, fetched: FetchedProfile | None) -> Profile:
        for attempt in (1, 2):  # two first fetches of one customer at once: the second updates the row
            try:
                return await self._upsert(channel, user_id, fetched)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _upsert(self, channel: str, user_id: str, fetched: FetchedProfile | None) -> Profile:
        async with self.db.sessions() as session, session.begin():
            row = await session.scalar(
                select(CustomerProfile)
                .where(CustomerProfile.channel == channel, CustomerProfile.user_id == user_id)
                .with_for_update()
            )
            if row is None:
                row = CustomerProfile(channel=channel, user_id=user_id)
                session.add(row)
            row.fetched_at = utcnow()
            if fetched is None:
                row.status = FAILED  # keep what an earlier fetch gave: better an old name than an id
            else:
                row.status = OK
                row.name, row.handle = _cut(fetched.name), _cut(fetched.handle)
                row.picture_url = fetched.picture_url
            return _profile(row)

    async def close(self) -> None:
        """Close the platform client's session."""
        if self.graph is not None:
            await self.graph.close()


def _profile(row: CustomerProfile) -> Profile:
    return Profile(
        row.channel, row.user_id, row.name, row.handle, row.picture_url, row.status, row.fetched_at
    )
