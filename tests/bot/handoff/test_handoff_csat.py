"""CSAT on handoff tickets: the rating lands on the latest resolved ticket, once, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.handoff.tickets import ASSIGNED, OPEN, RESOLVED, HandoffService
from bot.storage.db import Database
from bot.storage.models import HandoffTicket

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["postgresql", "sqlite"])
async def database(request, fresh_database) -> AsyncIterator[Database]:
    """An empty schema at head, the test's own."""
    db = Database(fresh_database(request.param))
    yield db
    await db.close()


async def ticket(db: Database, conversation: str, status: str, resolved_hours: int | None = None) -> int:
    resolved_at = T0 + dt.timedelta(hours=resolved_hours) if resolved_hours is not None else None
    async with db.sessions() as session, session.begin():
        row = HandoffTicket(
            conversation_id=conversation,
            channel="messenger",
            reason="customer_request",
            summary="",
            status=status,
            resolved_at=resolved_at,
        )
        session.add(row)
        await session.flush()
        return row.id


async def scores(db: Database) -> dict[int, int | None]:
    async with db.sessions() as session:
        rows = await session.execute(select(HandoffTicket.id, HandoffTicket.csat_score))
        return dict(rows.tuples().all())


async def test_the_rating_goes_to_the_most_recently_resolved_ticket(database):
    older = await ticket(database, "c1", RESOLVED, resolved_hours=1)
    latest = await ticket(database, "c1", RESOLVED, resolved_hours=5)
    still_open = await ticket(database, "c1", OPEN)
    elsewhere = await ticket(database, "c2", RESOLVED, resolved_hours=9)
    service = HandoffService(database)

    assert await service.already_rated("c1") is False
    assert await service.record_csat("c1", 4) == latest
    assert await scores(database) == {older: None, latest: 4, still_open: None, elsewhere: None}
    async with database.sessions() as session:
        rated_at = await session.scalar(select(HandoffTicket.csat_at).where(HandoffTicket.id == latest))
    assert rated_at is not None and rated_at.tzinfo is not None
    assert await service.already_rated("c1") is True


async def test_one_rating_per_ticket_and_never_moved_to_an_older_one(database):
    older = await ticket(database, "c1", RESOLVED, resolved_hours=1)
    latest = await ticket(database, "c1", RESOLVED, resolved_hours=5)
    service = HandoffService(database)
    assert await service.record_csat("c1", 2) == latest
    assert await service.record_csat("c1", 5) is None
    assert await scores(database) == {older: None, latest: 2}


async def test_no_resolved_ticket_stores_nothing(database):
    await ticket(database, "c1", OPEN)
    await ticket(database, "c1", ASSIGNED)
    service = HandoffService(database)
    assert await service.record_csat("c1", 5) is None
    assert await service.record_csat("nobody", 5) is None
    assert await service.already_rated("nobody") is False
    assert set((await scores(database)).values()) == {None}


async def test_racing_ratings_store_exactly_one(database):
    rated = await ticket(database, "c1", RESOLVED, resolved_hours=1)
    service = HandoffService(database)
    results = await asyncio.gather(*(service.record_csat("c1", score) for score in (1, 3, 5)))
    assert sorted(results, key=str) == sorted([rated, None, None], key=str)
    assert (await scores(database))[rated] in (1, 3, 5)


@pytest.mark.parametrize("score", [0, 6, -1, 10])
async def test_out_of_range_is_refused(database, score):
    await ticket(database, "c1", RESOLVED, resolved_hours=1)
    with pytest.raises(ValueError, match="1-5"):
        await HandoffService(database).record_csat("c1", score)
