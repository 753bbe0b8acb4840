"""Languages in the desk: the agents' skill, the ticket's language in the queue, a badge per message."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.desk.accounts import AccountError
from bot.desk.app import create_app
from bot.language.skills import parse_languages, speaks, spoken
from bot.storage.models import Agent, AuditEntry

from .conftest import PASSWORD, client_for, user_event


@pytest.fixture
async def server(config, database, people) -> AsyncIterator[TestServer]:
    """The desk app on a real port, sharing the test database."""
    async with TestServer(create_app(config, database, database)) as test_server:
        yield test_server


def spanish_event(text: str, code: Any = "es") -> dict[str, Any]:
    event = user_event(text, label="neutral", score=0.0)
    event["parse_data"]["language"] = {"code": code, "confidence": 0.93, "trained": False}
    return event


def test_language_lists_are_codes():
    assert parse_languages(" en, ES ,es,") == ("en", "es")
    for bad in ("", "english", "en;es", "e1", "<b>"):
        with pytest.raises(ValueError):
            parse_languages(bad)
    assert spoken("garbage!!") == ("en",) and spoken(None) == ("en",)
    assert speaks("en,es", "ES") and not speaks("en", "es") and speaks("en", None)


async def test_agents_have_languages_english_by_default(accounts, database):
    ada = await accounts.add("lola", "Lola", PASSWORD, languages="es, EN")
    assert ada.languages == "es,en"
    assert (await accounts.add("ed", "Ed", PASSWORD)).languages == "en"
    with pytest.raises(AccountError, match="ISO 639-1"):
        await accounts.add("x", "X", PASSWORD, languages="spanish")
    changed = await accounts.set_languages("ed", "en,fr")
    assert changed.languages == "en,fr"
    with pytest.raises(AccountError):
        await accounts.set_languages("nobody", "en")
    async with database.sessions() as session:
        assert (await session.scalar(select(Agent.languages).where(Agent.username == "ed"))) == "en,fr"
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-1] == "languages_changed"


def test_the_bot_command_sets_an_agents_languages(database_url):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "bot.cli", "agents"]
    add = subprocess.run(
        [*command, "add", "maria", "--languages", "en,es", "--password-stdin"],
        input=PASSWORD.encode(), env=env, capture_output=True, check=True,
    )  # fmt: skip
    assert b"speaks en,es" in add.stdout
    subprocess.run([*command, "languages", "maria", "es,pt"], env=env, capture_output=True, check=True)
    listing = subprocess.run([*command, "list"], env=env, capture_output=True, check=True).stdout.decode()
    assert "maria\tagent\tactive\tes,pt\tmaria" in listing
    refused = subprocess.run([*command, "languages", "maria", "klingon"], env=env, capture_output=True)
    assert refused.returncode != 0 and b"ISO 639-1" in refused.stderr


async def test_the_queue_shows_the_language_and_whom_it_suits(server, people, accounts, open_ticket):
    await accounts.set_languages("ada", "en,es")
    spanish = await open_ticket("psid-es", reason="language", language="es")
    english = await open_ticket("psid-en", language="en")
    ada, bob = await client_for(server, "ada"), await client_for(server, "bob")
    try:
        for client, mark in ((ada, "speaks"), (bob, "other")):
            html = await (await client.get("/fragments/queue")).text()
            row = re.search(rf'data-ticket="{spanish}">.*?</tr>', html, re.S).group(0)
            assert f'class="lang {mark}" data-language="es"' in row and ">language<" in row
            row = re.search(rf'data-ticket="{english}">.*?</tr>', html, re.S).group(0)
            assert 'class="lang speaks" data-language="en"' in row
        page = await (await bob.get(f"/tickets/{spanish}")).text()
        assert "not one of your languages" in page
    finally:
        await ada.close()
        await bob.close()


async def test_each_message_in_another_language_has_a_badge(server, people, open_ticket, store_event):
    ticket_id = await open_ticket("psid-es", reason="language", language="es")
    await store_event("psid-es", user_event("where is my order", label="neutral", score=0.0))
    await store_event("psid-es", spanish_event("¿dónde está mi pedido?"))
    await store_event("psid-es", spanish_event("<script>alert(4)</script> hola amigos", code="<b>x"))
    client = await client_for(server, "ada")
    try:
        html = await (await client.get(f"/fragments/tickets/{ticket_id}")).text()
    finally:
        await client.close()
    lines = re.findall(r'<li class="line customer".*?</li>', html, re.S)
    assert len(lines) == 3
    assert 'data-language="' not in lines[0]
    assert 'class="lang other" data-language="es"' in lines[1] and ">ES<" in lines[1]
    assert 'data-language="' not in lines[2]  # a code that is not one is no badge
    assert "<script>alert(4)" not in html and "&lt;script&gt;alert(4)&lt;/script&gt;" in html
