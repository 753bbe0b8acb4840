"""A customer writing in Spanish, end to end: Messenger simulator → Rasa → the honest reply → a person.

The real stack and model: the language component reads the message, escalation hands it over with
reason "language", the action answers in Spanish (languages.yml) through the fake Send API, the
ticket records "es", the desk marks who speaks it, and analytics counts the messages by language.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.desk.accounts import Accounts
from bot.desk.config import Lockout
from bot.devtools.devstack import Stack
from bot.settings import Settings
from bot.storage.db import Database, create_sync_engine
from bot.storage.models import HandoffTicket

from .test_desk import add_agent, desk_session
from .test_meta_channels import customer_says, new_user, texts, wait_for_replies
from .test_monitoring import wait_logged

FIRST = "Hola, ¿dónde está mi pedido? Lo pedí hace dos semanas y todavía no ha llegado."
SECOND = "Por favor, necesito una respuesta pronto."


def tickets(stack: Stack, conversation_id: str) -> list[HandoffTicket]:
    settings = Settings.from_env({k: v for k, v in stack.env.items() if v})
    engine = create_sync_engine(settings.database_url)
    try:
        with Session(engine) as session:
            query = select(HandoffTicket).where(HandoffTicket.conversation_id == conversation_id)
            return list(session.scalars(query))
    finally:
        engine.dispose()


def speaking(stack: Stack, languages: str) -> str:
    """A desk agent who answers customers in `languages`; the username."""
    username = add_agent(stack)
    settings = Settings.from_env({k: v for k, v in stack.env.items() if v})

    async def change() -> None:
        database = Database(settings.database_url)
        try:
            await Accounts(database, Lockout()).set_languages(username, languages)
        finally:
            await database.close()

    asyncio.run(change())
    return username


def test_a_spanish_customer_is_told_why_in_spanish_and_queued_for_a_spanish_speaker(default_stack):
    stack = default_stack
    user = new_user()
    customer_says(stack, "messenger", user, text=FIRST)
    [reply] = texts(wait_for_replies(stack, "messenger", user, 1))
    assert reply.startswith("Por ahora solo puedo responder en inglés") and "español" in reply
    [ticket] = tickets(stack, user)
    assert (ticket.reason, ticket.language, ticket.status) == ("language", "es", "open")

    # The conversation is with a person now: the next message is recorded, not answered.
    customer_says(stack, "messenger", user, text=SECOND)
    wait_logged(stack, 2, conversation_id=user, language="es")
    assert len(wait_for_replies(stack, "messenger", user, 1)) == 1

    # The desk: the ticket's language, marked for the agent who speaks it and not for the one who does not.
    for languages, mark in (("en,es", "speaks"), ("en", "other")):
        desk = desk_session(stack, speaking(stack, languages))
        queue = desk.get(f"{stack.desk_url}/fragments/queue", timeout=30).text
        row = re.search(rf'data-ticket="{ticket.id}">.*?</tr>', queue, re.S).group(0)
        assert f'class="lang {mark}" data-language="es"' in row
        page = desk.get(f"{stack.desk_url}/fragments/tickets/{ticket.id}", timeout=30).text
        lines = re.findall(r'<li class="line customer".*?</li>', page, re.S)
        assert len(lines) == 2 and all('data-language="es"' in line for line in lines)

    # Analytics: the day's messages by language include this customer's two.
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    supervisor = desk_session(stack, add_agent(stack, "supervisor"))
    exported = supervisor.get(f"{stack.desk_url}/analytics/export/languages.csv?from={today}&to={today}")
    counts = {row[0]: int(row[1]) for row in list(csv.reader(io.StringIO(exported.text)))[1:]}
    assert counts["es"] >= 2
