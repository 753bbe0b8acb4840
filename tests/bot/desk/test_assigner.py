"""The assigner against the real database (PostgreSQL and SQLite): presence, assignment, overrides, races."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import time

import pytest
from sqlalchemy import select, update

from bot.conversations.tail import Transcripts
from bot.desk.assigner import Assigner
from bot.desk.config import Assignment, Sla
from bot.desk.metrics import AUTO_ASSIGNED, SLA_RAISES
from bot.desk.overrides import route
from bot.desk.ownership import Ownership, OwnershipError
from bot.desk.presence import Presence
from bot.live_bus import Bus
from bot.storage.models import AgentPresence, AuditEntry, HandoffTicket, utcnow

from .conftest import PASSWORD, user_event

SETTINGS = Assignment(enabled=True, capacity=2, presence_seconds=60, interval_seconds=0.05, lease_seconds=3)


@pytest.fixture
def presence(database) -> Presence:
    return Presence(database, SETTINGS.presence_seconds)


@pytest.fixture
def bus() -> Bus:
    return Bus()


@pytest.fixture
def assigner(database, presence, bus) -> Assigner:
    return Assigner(database, Transcripts(database), presence, bus, SETTINGS, Sla())


async def owners(database) -> dict[int, int | None]:
    async with database.sessions() as session:
        return dict((await session.execute(select(HandoffTicket.id, HandoffTicket.assignee_id))).all())


async def audited(database, action: str) -> list[AuditEntry]:
    async with database.sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(await session.scalars(query))


async def test_presence_is_a_recent_beat_and_not_away(database, people, presence):
    ada, bob = people["ada"], people["bob"]
    assert await presence.online() == []  # nobody's page ever beat
    await presence.beat(ada.id)
    await presence.beat(bob.id, now=utcnow() - dt.timedelta(seconds=61))  # a page that stopped beating
    assert [s.agent.username for s in await presence.online()] == ["ada"]
    await presence.beat(bob.id)
    assert [s.agent.username for s in await presence.online()] == ["ada", "bob"]
    assert await presence.set_away(ada, True) and not await presence.set_away(ada, True)
    assert [s.agent.username for s in await presence.online()] == ["bob"]
    await presence.leave(bob.id)  # signed out
    assert await presence.online() == []
    await presence.set_away(ada, False)
    assert [s.agent.username for s in await presence.online()] == ["ada"]
    assert [e.action for e in await audited(database, "went_away")] == ["went_away"]
    assert len(await audited(database, "came_online")) == 1


async def test_queued_tickets_go_round_robin_to_online_agents_within_capacity(
    database, people, presence, assigner, open_ticket, bus
):
    ada, bob = people["ada"], people["bob"]
    tickets = [await open_ticket(f"psid-{n}", priority=50 + n) for n in range(5)]  # the last most urgent
    await presence.beat(ada.id)
    await presence.beat(bob.id)
    counted = AUTO_ASSIGNED._value.get()
    async with bus.subscribe() as nudges:
        done = await assigner.round()
        seen = [nudges.get_nowait() for _ in range(nudges.qsize())]
    assert [d.ticket_id for d in done] == tickets[::-1][:4]  # capacity 2 each: the least urgent waits
    assert AUTO_ASSIGNED._value.get() == counted + 4  # loom_desk_auto_assignments_total
    held = await owners(database)
    assert [held[t] for t in tickets[::-1]] == [ada.id, bob.id, ada.id, bob.id, None]
    assert {"kind": "queue"} in seen and {"kind": "conversation", "conversation_id": "psid-4"} in seen
    entries = await audited(database, "auto_assigned")
    assert [(e.actor, e.ticket_id) for e in entries] == [("assigner", t) for t in tickets[::-1][:4]]
    assert '"to": "ada"' in entries[0].detail
    # Ada resolves one: she has room again and is next in turn (Bob was given one after her).
    await Ownership(database).resolve(tickets[4], ada)
    assert [(d.ticket_id, d.agent_id) for d in await assigner.round()] == [(tickets[0], ada.id)]
    assert await assigner.round() == []


async def test_nobody_away_or_offline_gets_anything(database, people, presence, assigner, open_ticket):
    ada, bob = people["ada"], people["bob"]
    ticket = await open_ticket()
    await presence.beat(ada.id)
    await presence.set_away(ada, True)
    await presence.beat(bob.id, now=utcnow() - dt.timedelta(seconds=90))
    assert await assigner.round() == []
    assert (await owners(database))[ticket] is None
    await presence.beat(bob.id)
    assert [d.agent_id for d in await assigner.round()] == [bob.id]


async def test_skills_and_supervisors(database, people, accounts, presence, assigner, open_ticket):
    ada, bob, sam = people["ada"], people["bob"], people["sam"]
    await accounts.set_languages("bob", "en,es")
    await accounts.set_channels("ada", "instagram")
    spanish = await open_ticket("psid-es", language="es", priority=60)
    messenger = await open_ticket("psid-en", priority=55)
    tweet = await open_ticket("x-1", channel="twitter")
    for person in (ada, bob, sam):
        await presence.beat(person.id)
    await assigner.round()
    held = await owners(database)
    # Bob speaks Spanish; Ada only works Instagram; the supervisor takes nothing unless given a capacity.
    assert (held[spanish], held[messenger], held[tweet]) == (bob.id, bob.id, None)
    await accounts.set_capacity("sam", 1)
    assert [(d.ticket_id, d.agent_id) for d in await assigner.round()] == [(tweet, sam.id)]


async def test_supervisors_pins_holds_and_transfers_stand(database, people, presence, assigner, open_ticket):
    ada, bob, sam = people["ada"], people["bob"], people["sam"]
    pinned = await open_ticket("psid-pin", priority=90)
    held = await open_ticket("psid-hold", priority=80)
    moved = await open_ticket("psid-move", priority=70)
    await route(database, sam, pinned, f"agent:{bob.id}")
    await route(database, sam, held, "manual")
    with pytest.raises(OwnershipError, match="only a supervisor"):
        await route(database, ada, moved, "manual")
    await Ownership(database).claim(moved, sam)
    await Ownership(database).transfer(moved, sam, ada.id)  # a supervisor's decision: Ada has it
    await presence.beat(ada.id)
    assert await assigner.round() == []  # pinned to Bob (offline), held, and transferred: nothing for Ada
    await presence.beat(bob.id)
    assert [(d.ticket_id, d.agent_id) for d in await assigner.round()] == [(pinned, bob.id)]
    state = await owners(database)
    assert (state[held], state[moved]) == (None, ada.id)
    with pytest.raises(OwnershipError, match="no longer in the queue"):
        await route(database, sam, moved, "auto")
    late = await open_ticket("psid-late-pin")  # a pin or hold made after the round chose Ada still stands
    await route(database, sam, late, f"agent:{bob.id}")
    assert not await assigner.assign(late, ada)
    await route(database, sam, late, "manual")
    assert not await assigner.assign(late, bob)
    await route(database, sam, held, "auto")  # let go: now it is assigned
    assert [d.ticket_id for d in await assigner.round()] == [held]
    assert [e.ticket_id for e in await audited(database, "pinned")] == [pinned, late]
    assert [e.ticket_id for e in await audited(database, "held_for_claim")] == [held, late]
    assert [e.ticket_id for e in await audited(database, "routed_auto")] == [held]


async def test_a_released_ticket_does_not_come_straight_back(
    database, people, presence, assigner, open_ticket
):
    ada, bob = people["ada"], people["bob"]
    ticket = await open_ticket()
    await presence.beat(ada.id)
    assert [d.agent_id for d in await assigner.round()] == [ada.id]
    await Ownership(database).release(ticket, ada)
    assert await assigner.round() == []  # Ada is the only one online: it waits for someone else
    await presence.beat(bob.id)
    assert [d.agent_id for d in await assigner.round()] == [bob.id]


async def test_a_hand_claim_racing_the_assigner_leaves_exactly_one_owner(
    database, people, presence, assigner, open_ticket
):
    ada, bob = people["ada"], people["bob"]
    ownership = Ownership(database)
    for n in range(8):
        ticket = await open_ticket(f"psid-race-{n}")
        claimed, assigned = await asyncio.gather(
            ownership.claim(ticket, bob), assigner.assign(ticket, ada), return_exceptions=True
        )
        claim_won = not isinstance(claimed, Exception)
        assert claim_won != assigned, (claimed, assigned)  # exactly one of them
        assert claim_won or isinstance(claimed, OwnershipError)
        assert (await owners(database))[ticket] == (bob.id if claim_won else ada.id)
        async with database.sessions() as session:
            entries = list(
                await session.scalars(
                    select(AuditEntry.action).where(
                        AuditEntry.ticket_id == ticket, AuditEntry.action.in_(["claimed", "auto_assigned"])
                    )
                )
            )
        assert entries == (["claimed"] if claim_won else ["auto_assigned"])


async def age(database, ticket_id: int, minutes: float) -> None:
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(HandoffTicket)
            .where(HandoffTicket.id == ticket_id)
            .values(created_at=utcnow() - dt.timedelta(minutes=minutes))
        )


async def priority_of(database, ticket_id: int) -> int:
    async with database.sessions() as session:
        return (await session.get(HandoffTicket, ticket_id)).priority


async def test_a_first_response_breach_raises_priority_once_and_goes_first(
    database, people, presence, assigner, open_ticket
):
    late = await open_ticket("psid-late", priority=50)
    urgent = await open_ticket("psid-urgent", priority=70)
    await age(database, late, 6)  # first response is due after 5 minutes
    raised = SLA_RAISES.labels("first_response")._value.get()
    await assigner.round()  # nobody online: only the raise
    assert await priority_of(database, late) == 75 and await priority_of(database, urgent) == 70
    await assigner.round()
    assert await priority_of(database, late) == 75  # once per breach
    assert SLA_RAISES.labels("first_response")._value.get() == raised + 1
    [entry] = await audited(database, "sla_breached")
    assert entry.ticket_id == late and '"timer": "first response"' in entry.detail
    await presence.beat(people["ada"].id)
    one = Assigner(
        database, Transcripts(database), presence, Bus(), Assignment(enabled=True, capacity=1), Sla()
    )
    assert [d.ticket_id for d in await one.round()] == [late]  # the breached one went first


async def test_a_next_response_breach_raises_priority_once_per_late_message(
    database, people, assigner, open_ticket, store_event
):
    ada = people["ada"]
    ticket = await open_ticket("psid-waiting", priority=50)
    await Ownership(database).claim(ticket, ada)
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(HandoffTicket)
            .where(HandoffTicket.id == ticket)
            .values(first_response_at=utcnow() - dt.timedelta(minutes=40))
        )
    await store_event("psid-waiting", {**user_event("hello??"), "timestamp": time.time() - 20 * 60})
    await assigner.round()
    await assigner.round()
    assert await priority_of(database, ticket) == 75
    await store_event("psid-waiting", {**user_event("still nobody"), "timestamp": time.time() - 16 * 60})
    await assigner.round()
    assert await priority_of(database, ticket) == 100  # a new late message: a new breach
    entries = await audited(database, "sla_breached")
    assert [e.detail.count("next response") for e in entries] == [1, 1]
    await store_event("psid-waiting", {**user_event("ok"), "timestamp": time.time()})
    await assigner.round()
    assert await priority_of(database, ticket) == 100  # not late yet


async def test_only_the_replica_holding_the_lease_assigns(database, people, presence, open_ticket):
    first, second = (
        Assigner(database, Transcripts(database), presence, Bus(), SETTINGS, Sla()) for _ in range(2)
    )
    ticket = await open_ticket()
    await presence.beat(people["ada"].id)
    await first.start()
    await second.start()
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while (await owners(database))[ticket] is None:
            assert asyncio.get_running_loop().time() < deadline, "never assigned"
            await asyncio.sleep(0.05)
        assert [first.lease.held, second.lease.held].count(True) == 1
    finally:
        await first.stop()
        await second.stop()
    assert len(await audited(database, "auto_assigned")) == 1
    async with database.sessions() as session:
        row = await session.get(AgentPresence, people["ada"].id)
    assert row is not None and row.last_assigned_at is not None


def test_the_bot_command_sets_capacity_and_channels(database_url):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "bot.cli", "agents"]
    subprocess.run(
        [*command, "add", "lee", "--password-stdin"],
        input=PASSWORD.encode(),
        env=env,
        capture_output=True,
        check=True,
    )

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*command, *args], env=env, capture_output=True)

    assert b"up to 5 conversations" in run("capacity", "lee", "5").stdout
    assert b"from messenger,twitter" in run("channels", "lee", "Messenger,X").stdout
    listing = run("list").stdout.decode()
    assert "lee\tagent\tactive\ten\tlee\tchannels messenger,twitter\tcapacity 5" in listing
    assert b"claims by hand only" in run("capacity", "lee", "0").stdout
    assert b"desk.yml's number" in run("capacity", "lee", "default").stdout
    assert b"every channel" in run("channels", "lee", "all").stdout
    assert "channels all\tcapacity default" in run("list").stdout.decode()
    refused = run("channels", "lee", "fax")
    assert refused.returncode != 0 and b"channels are messenger, instagram, twitter" in refused.stderr
    refused = run("capacity", "lee", "many")
    assert refused.returncode != 0 and b"whole number" in refused.stderr
