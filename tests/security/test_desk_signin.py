"""Attacks on the desk's sign-in, over real HTTP against the desk app on PostgreSQL, at OWASP's cost.

- guessing one agent's password from many addresses: throttled per user name;
- spraying many names from one address: throttled per client address (behind a trusted proxy);
- finding out which accounts exist: unknown user, wrong password and throttled get one answer;
- stalling the desk with sign-ins: scrypt runs off the event loop and outside any transaction, so
  the desk keeps answering (and holds no row lock) while passwords are checked.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator

import psycopg
import pytest
from aiohttp import ClientSession, CookieJar, TCPConnector
from aiohttp.test_utils import TestServer
from sqlalchemy import update

from bot.desk import accounts as accounts_module
from bot.desk import passwords
from bot.desk.accounts import Accounts
from bot.desk.app import create_app
from bot.desk.config import DeskConfig, Lockout
from bot.settings import Settings
from bot.storage import migrate
from bot.storage.db import Database
from bot.storage.models import Agent

PASSWORD = "correct horse battery"
LOCKOUT = Lockout(attempts=3, minutes=15, ip_attempts=6)


@pytest.fixture
async def desk(postgres_url, tmp_path) -> AsyncIterator[tuple[TestServer, str]]:
    """The desk on a migrated PostgreSQL database with agents ada and bob."""
    migrate.downgrade(postgres_url, "base")
    migrate.upgrade(postgres_url)
    database = Database(postgres_url)
    accounts = Accounts(database, LOCKOUT)
    for name in ("ada", "bob"):
        await accounts.add(name, name.title(), PASSWORD)
    config = DeskConfig(
        settings=Settings(database_url=postgres_url, var_dir=str(tmp_path)),
        rasa_url="http://127.0.0.1:9",
        lockout=LOCKOUT,
    )
    try:
        async with TestServer(create_app(config, database, database)) as server:
            yield server, postgres_url
    finally:
        await database.close()
        migrate.downgrade(postgres_url, "base")


async def attempt(server: TestServer, username: str, password: str, client: str) -> tuple[int, str]:
    """One sign-in as a browser at address `client` (127.x.y.z: all of 127/8 is this machine) would make it.

    (status, the refusal shown or '')
    """
    connector = TCPConnector(local_addr=(client, 0))  # connect from that source address
    async with ClientSession(connector=connector, cookie_jar=CookieJar(unsafe=True)) as http:
        page = await http.get(server.make_url("/login"))
        token = re.search(r'name="login_csrf" value="([^"]+)"', await page.text()).group(1)
        answer = await http.post(
            server.make_url("/login"),
            data={"username": username, "password": password, "login_csrf": token},
            allow_redirects=False,
        )
        found = re.search(r'<p class="error" role="alert">(.*?)</p>', await answer.text())
        return answer.status, found.group(1) if found else ""


async def test_one_name_is_throttled_whatever_the_address(desk):
    server, _ = desk
    for n in range(LOCKOUT.attempts):
        status, _ = await attempt(server, "ada", f"guess number {n}", f"127.0.51.{n}")
        assert status == 401
    status, _ = await attempt(server, "ada", PASSWORD, "127.0.2.200")  # the right password, a new address
    assert status == 401
    assert (await attempt(server, "bob", PASSWORD, "127.0.2.200"))[0] == 303  # bob is not locked out


async def test_one_address_is_throttled_whatever_the_names(desk):
    server, _ = desk
    names = ["root", "admin", "ada", "support", "bob", "carol"]
    for name in names[: LOCKOUT.ip_attempts]:
        assert (await attempt(server, name, "Winter2026!!", "127.0.113.66"))[0] == 401
    assert (await attempt(server, "bob", PASSWORD, "127.0.113.66"))[0] == 401  # this address is done
    assert (await attempt(server, "bob", PASSWORD, "127.0.113.67"))[0] == 303  # another one is not


async def test_unknown_wrong_and_throttled_look_the_same(desk):
    server, _ = desk
    unknown = await attempt(server, "nobody-here", PASSWORD, "127.0.51.10")
    wrong = await attempt(server, "ada", "not the password", "127.0.51.11")
    for n in range(LOCKOUT.attempts):
        await attempt(server, "bob", "not the password", f"127.0.51.{20 + n}")
    throttled = await attempt(server, "bob", PASSWORD, "127.0.51.30")
    for _ in range(LOCKOUT.attempts):
        await attempt(server, "nobody-here", "not the password", "127.0.51.31")
    throttled_unknown = await attempt(server, "nobody-here", PASSWORD, "127.0.51.32")
    assert unknown == wrong == throttled == throttled_unknown
    assert unknown[0] == 401 and unknown[1]


def fewest_open_transactions(postgres_url: str, looks: int = 20) -> int:
    """The fewest connections seen idle inside a transaction over `looks` looks, 0.1 s apart.

    The other two sign-ins open short transactions of their own (reading the account, auditing a
    failure), so one look may catch one of those; a transaction held around the held hash would be
    there at every look.
    """
    fewest = None
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        for _ in range(looks):
            count = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%'"
            ).fetchone()[0]
            fewest = count if fewest is None else min(fewest, count)
            if fewest == 0:
                break
            time.sleep(0.1)
    return fewest


async def test_the_desk_answers_while_passwords_are_checked(desk, monkeypatch):
    """A sign-in is held inside its scrypt call until /health has answered and the database is checked.

    If hashing ran on the event loop, /health could not answer while the hash is held: the hold gives
    up after a while and the test fails. If it ran inside a transaction, PostgreSQL would show one
    for as long as the hold lasts.
    """
    server, postgres_url = desk
    hashing, health_answered = threading.Event(), threading.Event()
    seen: dict[str, object] = {}
    real = accounts_module.verify_password

    def held(password: str, stored: str) -> bool:
        result = real(password, stored)
        if hashing.is_set():  # hold the first check only
            return result
        hashing.set()
        seen["in_transaction"] = fewest_open_transactions(postgres_url)
        seen["health_first"] = health_answered.wait(timeout=10)
        return result

    monkeypatch.setattr(accounts_module, "verify_password", held)
    sign_ins = [
        asyncio.create_task(attempt(server, name, password, f"127.0.2.{n}"))
        for n, (name, password) in enumerate([("ada", PASSWORD), ("nobody", PASSWORD), ("bob", "wrong one!")])
    ]
    await asyncio.to_thread(hashing.wait, 20)
    async with ClientSession() as http:
        health = await http.get(server.make_url("/health"))
        assert health.status == 200 and await health.text() == "ok"
    health_answered.set()
    results = await asyncio.gather(*sign_ins)
    assert [status for status, _ in results] == [303, 401, 401]
    assert seen == {"in_transaction": 0, "health_first": True}


def test_hashes_are_made_at_owasps_minimum():
    stored = passwords.hash_password(PASSWORD)
    assert passwords.stored_cost(stored) == passwords.Cost(2**17, 8, 1)


async def test_an_old_hash_is_upgraded_when_its_owner_signs_in(desk):
    server, postgres_url = desk
    database = Database(postgres_url)
    try:
        old = passwords.hash_password(PASSWORD, passwords.Cost(2**14, 8, 1))  # the desk's former cost
        async with database.sessions() as session, session.begin():
            await session.execute(update(Agent).where(Agent.username == "ada").values(password_hash=old))
        assert (await attempt(server, "ada", PASSWORD, "127.0.2.9"))[0] == 303
        stored = (await Accounts(database, LOCKOUT).get("ada")).password_hash
    finally:
        await database.close()
    assert passwords.stored_cost(stored) == passwords.Cost(2**17, 8, 1)
