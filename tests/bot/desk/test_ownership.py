"""Ownership transitions: exactly one owner under races, every path back to the queue or the bot."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.desk.accounts import Accounts
from bot.desk.config import Lockout
from bot.desk.ownership import NotFound, Ownership, OwnershipError, can_view, owner
from bot.handoff.tickets import HandoffService
from bot.storage.models import AuditEntry, HandoffTicket

from .conftest import PASSWORD


async def test_parallel_claims_have_exactly_one_winner(database, open_ticket):
    accounts = Accounts(database, Lockout())
    agents = [await accounts.add(f"agent{i}", f"Agent {i}", PASSWORD) for i in range(12)]
    ticket_id = await open_ticket()
    ownership = Ownership(database)
    results = await asyncio.gather(*(ownership.claim(ticket_id, a) for a in agents), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, OwnershipError)]
    assert len(winners) == 1 and len(losers) == len(agents) - 1
    ticket = await ownership.ticket(ticket_id)
    assert owner(ticket) == winners[0].owner == f"agent:{ticket.assignee_id}"
    assert "no longer in the queue" in str(losers[0])
    async with database.sessions() as session:
        claims = list(await session.scalars(select(AuditEntry).where(AuditEntry.action == "claimed")))
    assert len(claims) == 1 and claims[0].actor_id == ticket.assignee_id


async def test_release_puts_it_back_and_only_the_owner_may(database, people, open_ticket):
    ownership = Ownership(database)
    ticket_id = await open_ticket()
    await ownership.claim(ticket_id, people["ada"])
    with pytest.raises(NotFound):  # Bob may not even see Ada's ticket
        await ownership.release(ticket_id, people["bob"])
    change = await ownership.release(ticket_id, people["ada"])
    assert change.owner == "queued"
    assert owner(await ownership.ticket(ticket_id)) == "queued"
    assert (await ownership.claim(ticket_id, people["bob"])).owner == f"agent:{people['bob'].id}"


async def test_transfer(database, people, open_ticket):
    ownership = Ownership(database)
    ticket_id = await open_ticket()
    await ownership.claim(ticket_id, people["ada"])
    with pytest.raises(OwnershipError, match="already with"):
        await ownership.transfer(ticket_id, people["ada"], people["ada"].id)
    with pytest.raises(OwnershipError, match="does not exist"):
        await ownership.transfer(ticket_id, people["ada"], 99999)
    assert (
        await ownership.transfer(ticket_id, people["ada"], people["bob"].id)
    ).owner == f"agent:{people['bob'].id}"
    with pytest.raises(NotFound):  # no longer Ada's
        await ownership.transfer(ticket_id, people["ada"], people["ada"].id)
    # A supervisor may move anyone's work.
    assert (
        await ownership.transfer(ticket_id, people["sam"], people["ada"].id)
    ).owner == f"agent:{people['ada'].id}"


async def test_resolve_hands_back_to_the_bot(database, people, open_ticket):
    ownership = Ownership(database)
    ticket_id = await open_ticket()
    with pytest.raises(OwnershipError, match="not yours"):  # nobody resolves a queued ticket
        await ownership.resolve(ticket_id, people["ada"])
    await ownership.claim(ticket_id, people["ada"])
    with pytest.raises(NotFound):
        await ownership.resolve(ticket_id, people["bob"])
    assert (await ownership.resolve(ticket_id, people["ada"])).owner == "bot"
    ticket = await ownership.ticket(ticket_id)
    assert owner(ticket) == "closed" and ticket.resolved_by == people["ada"].id and ticket.resolved_at
    with pytest.raises(OwnershipError):
        await ownership.claim(ticket_id, people["bob"])
    # A new escalation later opens a new ticket; while one is active, escalations reuse it.
    again = await open_ticket()
    assert again != ticket_id
    assert await open_ticket() == again


async def test_a_person_in_metas_inbox_takes_ownership(database, people, open_ticket):
    ownership = Ownership(database)
    ticket_id = await open_ticket("psid-7")
    await ownership.claim(ticket_id, people["ada"])
    change = await ownership.taken_outside("psid-7", "messenger", "meta_inbox")
    assert change.ticket_id == ticket_id and change.owner == "external:meta_inbox"
    ticket = await ownership.ticket(ticket_id)
    assert ticket.assignee_id is None and ticket.first_response_at is not None
    # Without any ticket, the takeover opens one so the desk shows who has the customer.
    fresh = await ownership.taken_outside("psid-8", "instagram", "meta_inbox")
    assert fresh.ticket_id != ticket_id and fresh.owner == "external:meta_inbox"
    assert (await ownership.taken_outside("psid-8", "instagram", "meta_inbox")).ticket_id == fresh.ticket_id
    # A supervisor can hand such a conversation back to the queue or the bot; an agent cannot.
    with pytest.raises(OwnershipError):
        await ownership.release(fresh.ticket_id, people["ada"])
    assert (await ownership.release(fresh.ticket_id, people["sam"])).owner == "queued"


async def test_what_each_role_may_see(database, people, open_ticket):
    ownership = Ownership(database)
    mine, theirs, queued = await open_ticket("a"), await open_ticket("b"), await open_ticket("c")
    await ownership.claim(mine, people["ada"])
    await ownership.claim(theirs, people["bob"])
    async with database.sessions() as session:
        tickets = {t.id: t for t in await session.scalars(select(HandoffTicket))}
    assert can_view(people["ada"], tickets[mine]) and can_view(people["ada"], tickets[queued])
    assert not can_view(people["ada"], tickets[theirs])
    assert all(can_view(people["sam"], t) for t in tickets.values())
    with pytest.raises(NotFound):
        await ownership.ticket(theirs, people["ada"])
    with pytest.raises(NotFound):
        await ownership.add_note(theirs, people["ada"], "sneaky")


async def test_notes(database, people, open_ticket):
    ownership = Ownership(database)
    ticket_id = await open_ticket()
    await ownership.add_note(ticket_id, people["ada"], "  customer is a regular  ")
    with pytest.raises(OwnershipError, match="empty"):
        await ownership.add_note(ticket_id, people["ada"], "   ")


async def test_handoff_service_reuses_an_assigned_ticket(database, people, open_ticket):
    ticket_id = await open_ticket("z")
    await Ownership(database).claim(ticket_id, people["ada"])
    info = await HandoffService(database).open_ticket("z", "messenger", "sustained_negative", -0.6, 70, "")
    assert info.id == ticket_id and not info.created


async def test_a_supervisor_resolves_a_conversation_held_outside_the_desk(database, people):
    ownership = Ownership(database)
    change = await ownership.taken_outside("psid-9", "messenger", "meta_inbox")
    with pytest.raises(OwnershipError):
        await ownership.resolve(change.ticket_id, people["ada"])
    assert (await ownership.resolve(change.ticket_id, people["sam"])).owner == "bot"
    assert owner(await ownership.ticket(change.ticket_id)) == "closed"
