"""Automatic assignment over HTTP: an open page is presence, the header's away switch, supervisors' pins."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.desk.app import create_app
from bot.desk.config import Assignment
from bot.desk.presence import Presence
from bot.storage.models import AgentPresence, AuditEntry, HandoffTicket

from .conftest import client_for, csrf_of

QUICK = Assignment(enabled=True, capacity=3, presence_seconds=30, interval_seconds=0.05, lease_seconds=3)


@pytest.fixture
async def server(config, database, people) -> AsyncIterator[TestServer]:
    """The desk with the assigner running (as desk.yml has it), on a real port."""
    tuned = config.__class__(**{**config.__dict__, "poll_seconds": 0.05, "assignment": QUICK})
    async with TestServer(create_app(tuned, database, database)) as test_server:
        yield test_server


def cookies_of(client, server) -> dict[str, str]:
    jar = client.session.cookie_jar.filter_cookies(server.make_url("/"))
    return {name: morsel.value for name, morsel in jar.items()}


async def test_an_open_page_gets_a_queued_conversation_pushed_without_a_claim(
    server, database, people, open_ticket
):
    ticket_id = await open_ticket("psid-auto", customer_name="Robin Auto")
    ada = await client_for(server, "ada")
    try:
        queue = await (await ada.get("/queue")).text()
        assert 'id="waiting"' in queue and "Robin Auto" in queue  # a page load alone is not presence
        async with (
            ClientSession(cookies=cookies_of(ada, server)) as session,
            session.get(server.make_url("/stream")) as stream,
        ):
            await stream.content.readuntil(b"\n\n")  # retry: line
            received = b""
            while b"event: queue" not in received:  # the assignment's nudge
                received += await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 20)
        fragment = await (await ada.get("/fragments/queue")).text()
        working = fragment.split('id="working"', 1)[1]
        assert "Robin Auto" in working and "(you)" in working
        assert 'id="waiting"' not in fragment
        async with database.sessions() as session:
            ticket = await session.get(HandoffTicket, ticket_id)
            entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "auto_assigned"))
        assert ticket.assignee_id == people["ada"].id and ticket.status == "assigned"
        assert entry is not None and entry.ticket_id == ticket_id
    finally:
        await ada.close()


async def test_every_page_of_the_agent_given_a_conversation_is_told_and_nobody_elses(
    server, accounts, people, open_ticket
):
    """`assigned` goes to the assignee's streams only, with the ticket's number and nothing else."""
    await accounts.set_capacity("bob", 0)  # online too, but claims by hand: Ada is the one given it
    ada, bob = await client_for(server, "ada"), await client_for(server, "bob")
    try:
        async with (
            ClientSession(cookies=cookies_of(ada, server)) as ada_session,
            ClientSession(cookies=cookies_of(bob, server)) as bob_session,
            ada_session.get(server.make_url("/stream")) as ada_stream,
            bob_session.get(server.make_url("/stream")) as bob_stream,
        ):
            for stream in (ada_stream, bob_stream):
                await stream.content.readuntil(b"\n\n")  # retry: line
            ticket_id = await open_ticket("psid-told", customer_name="Robin Told")
            told = b""
            while b"event: assigned" not in told:
                told += await asyncio.wait_for(ada_stream.content.readuntil(b"\n\n"), 20)
            event = told.split(b"event: assigned\n", 1)[1].split(b"\n\n", 1)[0].decode()
            assert event == f'data: {{"kind": "assigned", "ticket": {ticket_id}}}'
            seen = b""
            while b"event: queue" not in seen:  # the same round's last nudge: whatever Bob gets, he has
                seen += await asyncio.wait_for(bob_stream.content.readuntil(b"\n\n"), 20)
            assert b"assigned" not in seen and b"Robin" not in told + seen
    finally:
        await ada.close()
        await bob.close()


async def test_the_away_switch_and_signing_out(server, database, people):
    ada = await client_for(server, "ada")
    try:
        page = await (await ada.get("/queue")).text()
        assert 'class="presence-state online"' in page and "Set away" in page
        answer = await ada.post(
            "/presence",
            data={"csrf": csrf_of(page), "away": "1", "next": "/audit?x=1"},
            allow_redirects=False,
        )
        assert answer.status == 303 and answer.headers["Location"] == "/audit?x=1"
        page = await (await ada.get("/queue")).text()
        assert 'class="presence-state away"' in page and "Go online" in page
        assert "no conversations are assigned to you" in page  # the flash
        sneaky = await ada.post(
            "/presence",
            data={"csrf": csrf_of(page), "away": "0", "next": "//evil.example/"},
            allow_redirects=False,
        )
        assert sneaky.headers["Location"] == "/queue"  # never off the desk
        assert "Set away" in await (await ada.get("/queue")).text()
        assert (await ada.post("/presence", data={"away": "1"})).status == 403  # CSRF
        async with database.sessions() as session:
            actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "ada")))
        assert actions.count("went_away") == 1 and actions.count("came_online") == 1
        await beats_then_signs_out(server, ada, database, people["ada"].id)
    finally:
        await ada.close()


async def beats_then_signs_out(server, client, database, agent_id: int) -> None:
    """An open stream stores a beat at once; signing out clears it at once."""
    async with (
        ClientSession(cookies=cookies_of(client, server)) as session,
        session.get(server.make_url("/stream")) as stream,
    ):
        await stream.content.readuntil(b"\n\n")
        for _ in range(200):  # the stream's first beat is stored as it opens
            async with database.sessions() as db_session:
                row = await db_session.get(AgentPresence, agent_id)
            if row is not None and row.seen_at is not None:
                break
            await asyncio.sleep(0.05)
        assert row is not None and row.seen_at is not None
    page = await (await client.get("/queue")).text()
    await client.post("/logout", data={"csrf": csrf_of(page)})
    async with database.sessions() as db_session:
        row = await db_session.get(AgentPresence, agent_id)
    assert row.seen_at is None  # offline at once


async def test_supervisors_pin_or_hold_a_queued_conversation(server, database, people, open_ticket):
    # In Finnish, which nobody speaks: the assigner leaves it to the supervisor although Ada is online.
    ticket_id = await open_ticket("psid-pin", customer_name="Pat Pinned", language="fi")
    sam, ada = await client_for(server, "sam"), await client_for(server, "ada")
    try:
        await Presence(database, 30).beat(people["ada"].id)
        await Presence(database, 30).set_away(people["bob"], True)
        page = await (await sam.get("/queue")).text()
        assert f'value="agent:{people["bob"].id}"' in page and "Claim by hand only" in page
        team = page.split('id="team"', 1)[1].split("</ul>", 1)[0]  # who is there, for the supervisor
        assert re.search(
            r'data-agent="ada"><span class="presence-state online">Ada</span>\s*<small>online · 0/3', team
        )
        assert 'data-agent="bob"><span class="presence-state away">' in team
        assert re.search(
            r'data-agent="sam"><span class="presence-state offline">Sam</span>\s*<small>offline · 0/0', team
        )
        assert 'id="team"' not in await (await ada.get("/queue")).text()
        assert 'form class="route"' not in await (await ada.get("/queue")).text()  # supervisors only
        done = await sam.post(
            f"/tickets/{ticket_id}/route", data={"csrf": csrf_of(page), "route": f"agent:{people['bob'].id}"}
        )
        assert f"Ticket #{ticket_id}: who it goes to is set." in await done.text()
        assert "📌 Bob" in await (await ada.get("/fragments/queue")).text()
        agent_page = await (await ada.get("/queue")).text()
        refused = await ada.post(
            f"/tickets/{ticket_id}/route", data={"csrf": csrf_of(agent_page), "route": "auto"}
        )
        assert "only a supervisor" in await refused.text()
        await sam.post(f"/tickets/{ticket_id}/route", data={"csrf": csrf_of(page), "route": "manual"})
        async with database.sessions() as session:
            ticket = await session.get(HandoffTicket, ticket_id)
        assert ticket.manual_only and ticket.pinned_to is None and ticket.status == "open"
    finally:
        await sam.close()
        await ada.close()


async def test_without_assignment_there_is_no_away_switch(config, database, people):
    assert not config.assignment.enabled  # a desk.yml without `assignment:`
    async with TestServer(create_app(config, database, database)) as plain:
        ada = await client_for(plain, "ada")
        try:
            page = await (await ada.get("/queue")).text()
            assert 'action="/logout"' in page and 'action="/presence"' not in page
        finally:
            await ada.close()
