"""Agent assist on a seeded shop: the panel's orders and replies, cancel and return, their routes and audit.

The seeded personas (bot/storage/seed/shop.yml): Messenger user `sim-jordan` is Jordan, whose order
100871 is processing and 108812 was delivered 48 days ago; `sim-amy` is Amy (104523 shipped with Royal
Mail, 112930 delivered 5 days ago); 101010 is Sam's, processing.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from markupsafe import escape
from sqlalchemy import select

from bot.conversations.tail import Transcripts
from bot.desk.app import create_app
from bot.desk.assist_panel import AgentAssist
from bot.desk.canned import load as load_canned
from bot.desk.order_actions import OrderActions
from bot.desk.ownership import NotFound, Ownership, OwnershipError
from bot.shop.orders import OrderService
from bot.storage.db import create_sync_engine
from bot.storage.models import AuditEntry, HandoffTicket
from bot.storage.seed import seed

from .conftest import client_for, csrf_of

HOSTILE = '<img src=x onerror="alert(1)">'


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request, fresh_database) -> str:
    """A migrated, seeded database with Rasa's events table, PostgreSQL and SQLite."""
    url = fresh_database(request.param, rasa_events=True)
    engine = create_sync_engine(url)
    seed(engine)
    engine.dispose()
    return url


def said(text: str, intent: str, score: float = -0.3, **extra: Any) -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "input_channel": "messenger",
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.9},
            "entities": extra.pop("entities", []),
            "sentiment": {"label": "negative", "score": score},
        },
        "metadata": {},
    }


@pytest.fixture
def assist(database) -> AgentAssist:
    return AgentAssist(database, Transcripts(database))


@pytest.fixture
def claimed(database, open_ticket, people):
    """A ticket for the conversation, claimed by Ada."""

    async def make(conversation_id: str) -> int:
        ticket_id = await open_ticket(conversation_id)
        await Ownership(database).claim(ticket_id, people["ada"])
        return ticket_id

    return make


async def audit_rows(database, ticket_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.ticket_id == ticket_id).order_by(AuditEntry.id)
        )
        return [
            (r.actor, r.action, json.loads(r.detail))
            for r in rows
            if r.action.startswith(("order", "return"))
        ]


async def test_the_panel_shows_the_conversations_orders_and_ranks_the_order_status_first(
    assist, claimed, store_event, people
):
    ticket_id = await claimed("sim-amy")
    await store_event("sim-amy", said("where is my order 104523?? it's late", "order_status", -0.5))
    await store_event("sim-amy", said("can i talk to a person", "request_human", -0.7))
    ticket = await assist_ticket(assist, ticket_id)
    canned = [(c, c.filled("Amy", "Ada")) for c in load_canned()]
    panel = await assist.panel(ticket, canned, alpha=0.5)
    assert panel.summary.startswith("Wants: to know where order #104523 (")
    assert panel.summary.endswith("customer asked for a person. Mood: frustrated, getting worse.")
    assert [o.order.id for o in panel.context.orders] == [104523, 112930]  # Amy's: mentioned, then linked
    top = panel.suggestions[0]
    assert top.title == "Order #104523: status"
    assert "Royal Mail" in top.text and "https://track.loomandco.example/RM482913457GB" in top.text
    assert (
        panel.suggestions[1].title == "Introduce yourself" and "Hi Amy, I'm Ada" in panel.suggestions[1].text
    )


async def assist_ticket(assist: AgentAssist, ticket_id: int) -> HandoffTicket:
    async with assist.db.sessions() as session:
        return await session.get(HandoffTicket, ticket_id)


async def test_someone_elses_order_is_shown_as_mentioned_but_cannot_be_shared_or_changed(
    assist, claimed, store_event, people, database
):
    ticket_id = await claimed("sim-jordan")
    await store_event("sim-jordan", said("cancel 101010 please", "cancel_order"))
    panel = await assist.panel(await assist_ticket(assist, ticket_id), [], alpha=0.5)
    [sams, *jordans] = panel.context.orders
    assert sams.order.id == 101010 and not sams.may_share
    assert {o.order.id for o in jordans} == {100871, 108812}  # Jordan's own; Amy's never appear
    assert not any("101010" in s.text for s in panel.suggestions)  # nothing about it goes to this customer
    with pytest.raises(OwnershipError, match="not linked"):
        await OrderActions(assist).cancel(people["ada"], ticket_id, 101010, confirmed=True)
    assert (await OrderService(database).get(101010)).status == "processing"
    assert await audit_rows(database, ticket_id) == []


async def test_cancel_needs_confirmation_and_the_owner_then_cancels_once_and_is_audited(
    assist, claimed, database, people
):
    ticket_id = await claimed("sim-jordan")
    actions = OrderActions(assist)
    with pytest.raises(OwnershipError, match="confirm"):
        await actions.cancel(people["ada"], ticket_id, 100871, confirmed=False)
    with pytest.raises(NotFound):
        await actions.cancel(people["bob"], ticket_id, 100871, confirmed=True)  # Ada's: Bob cannot see it
    await Ownership(database).release(ticket_id, people["ada"])
    with pytest.raises(OwnershipError, match="claim"):
        await actions.cancel(people["bob"], ticket_id, 100871, confirmed=True)  # queued: nobody's yet
    await Ownership(database).claim(ticket_id, people["ada"])
    assert (await OrderService(database).get(100871)).status == "processing"

    done = await actions.cancel(people["ada"], ticket_id, 100871, confirmed=True)
    assert done.done and done.reply.key == "cancel_done" and done.draft == "cancel_done-100871"
    assert (await OrderService(database).get(100871)).status == "cancelled"
    again = await actions.cancel(people["ada"], ticket_id, 100871, confirmed=True)
    assert not again.done and again.reply.key == "order_cancelled"
    late = await actions.start_return(people["ada"], ticket_id, 108812)  # delivered 48 days ago
    assert not late.done and late.reply.key == "return_window_closed"
    assert await audit_rows(database, ticket_id) == [
        ("ada", "order_cancelled", {"order_id": 100871, "outcome": "cancel_done"}),
        ("ada", "order_cancel_refused", {"order_id": 100871, "outcome": "order_cancelled"}),
        ("ada", "return_refused", {"order_id": 108812, "outcome": "return_window_closed"}),
    ]


async def test_an_order_verified_in_the_conversation_can_be_changed_and_a_delivered_one_returned(
    assist, claimed, store_event, database, people
):
    ticket_id = await claimed("sim-jordan")
    await store_event("sim-jordan", said("cancel 101010", "cancel_order"))
    await store_event("sim-jordan", {"event": "slot", "name": "verified_orders", "value": ["101010"]})
    done = await OrderActions(assist).cancel(people["sam"], ticket_id, 101010, confirmed=True)  # a supervisor
    assert done.done and (await OrderService(database).get(101010)).status == "cancelled"
    assert not done.by_owner  # Sam's reply box has no place in Ada's conversation: the page says so

    amy = await claimed("sim-amy")
    started = await OrderActions(assist).start_return(people["ada"], amy, 112930)
    assert started.done and started.by_owner
    assert started.reply.values["returns_url"].endswith("order=112930")
    assert await audit_rows(database, amy) == [
        ("ada", "return_started", {"order_id": 112930, "outcome": "return_how"})
    ]
    with pytest.raises(NotFound):
        await OrderActions(assist).start_return(people["bob"], amy, 112930)  # Bob may not even see it


@pytest.fixture
async def server(config, database, people) -> AsyncIterator[TestServer]:
    app = create_app(config, database, database)
    async with TestServer(app) as test_server:
        yield test_server


async def test_the_conversation_page_and_the_cancel_route(server, claimed, store_event, database):
    ticket_id = await claimed("sim-jordan")
    await store_event(
        "sim-jordan",
        said(
            f"cancel my order 100871 {HOSTILE}",
            "cancel_order",
            entities=[{"entity": "product", "value": HOSTILE}],
        ),
    )
    ada = await client_for(server, "ada")
    bob = await client_for(server, "bob")
    try:
        page = await (await ada.get(f"/tickets/{ticket_id}")).text()
        assert HOSTILE not in page
        assert f'<span class="product">{escape(HOSTILE)}</span>' in page  # the product entity, escaped
        assert 'id="assist-summary">Wants: to cancel order #100871 (Oversized Hoodie (grey, L)).' in page
        assert re.search(
            r'<button type="button" class="suggestion bot" data-text="Just to check: cancel order #100871',
            page,
        )
        assert f'href="/tickets/{ticket_id}?confirm_cancel=100871"' in page
        confirm = await (await ada.get(f"/tickets/{ticket_id}?confirm_cancel=100871")).text()
        assert (
            f'action="/tickets/{ticket_id}/orders/100871/cancel"' in confirm and "cannot be undone" in confirm
        )

        url = f"/tickets/{ticket_id}/orders/100871/cancel"
        refused = await ada.post(url, data={"confirm": "yes"}, allow_redirects=False)  # no CSRF token
        assert refused.status == 403
        bobs = await bob.post(
            url,
            data={"confirm": "yes", "csrf": csrf_of(await (await bob.get("/queue")).text())},
            allow_redirects=False,
        )
        assert bobs.status == 404  # Ada's ticket: Bob may not see it
        assert (await OrderService(database).get(100871)).status == "processing"

        answer = await ada.post(url, data={"confirm": "yes", "csrf": csrf_of(confirm)}, allow_redirects=False)
        assert (
            answer.status == 303
            and answer.headers["Location"] == f"/tickets/{ticket_id}?draft=cancel_done-100871"
        )
        after = await (await ada.get(answer.headers["Location"])).text()
        assert re.search(
            r"<textarea name=\"text\"[^>]*>Done ✅ Order #100871 is cancelled\. Your refund of £", after
        )
        assert "The customer has not been told yet" in after
        assert (await OrderService(database).get(100871)).status == "cancelled"
        assert await audit_rows(database, ticket_id) == [
            ("ada", "order_cancelled", {"order_id": 100871, "outcome": "cancel_done"})
        ]
        # A made-up draft link cannot put words in the box: the text comes from the order as it is.
        forged = await (await ada.get(f"/tickets/{ticket_id}?draft=cancel_done-108812")).text()
        box = re.search(r'<textarea name="text"[^>]*>([^<]*)</textarea>', forged).group(1)
        assert html.unescape(box).startswith("Order #108812 has already shipped, so I can't cancel it")
    finally:
        await ada.close()
        await bob.close()
