"""bot/desk/demo.py: the demo sign-in `make run` prints works, whichever database this VAR_DIR used last.

Two real databases share one VAR_DIR, as when `make run` runs once with `DATABASE_URL` set to
PostgreSQL and once with the embedded SQLite default; every password printed is tried through the
desk's own sign-in.
"""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.desk.accounts import Accounts, SignInError
from bot.desk.config import Lockout
from bot.desk.demo import DEMO_ACCOUNTS, credentials_file, database_key, ensure_demo_accounts
from bot.desk.passwords import hash_password
from bot.settings import Settings
from bot.storage import migrate
from bot.storage.db import Database
from bot.storage.models import Agent


def languages(settings: Settings) -> dict[str, str]:
    """Each account's languages on this database (a Spanish customer in `make run` goes to the agent)."""

    async def read() -> dict[str, str]:
        database = Database(settings.database_url)
        try:
            return {a.username: a.languages for a in await Accounts(database, Lockout()).active_agents()}
        finally:
            await database.close()

    return asyncio.run(read())


def signs_in(settings: Settings, passwords: dict[str, str]) -> bool:
    """Whether every username/password signs in to the desk on this database."""

    async def check() -> bool:
        database = Database(settings.database_url)
        accounts = Accounts(database, Lockout())
        try:
            for username, password in passwords.items():
                try:
                    await accounts.sign_in(username, password)
                except SignInError:
                    return False
            return True
        finally:
            await accounts.close()
            await database.close()

    return asyncio.run(check())


def set_password(settings: Settings, username: str, password: str) -> None:
    """Change an account's password behind make run's back (or make the account, not as a demo one)."""

    async def change() -> None:
        database = Database(settings.database_url)
        try:
            async with database.sessions() as session, session.begin():
                agent = await session.scalar(select(Agent).where(Agent.username == username))
                if agent is not None:
                    agent.password_hash = hash_password(password)
                    return
            await Accounts(database, Lockout()).add(username, "Someone else", password)
        finally:
            await database.close()

    asyncio.run(change())


@pytest.fixture
def var_dir(tmp_path) -> Path:
    """One VAR_DIR for both databases."""
    return tmp_path / "var"


@pytest.fixture
def sqlite(var_dir) -> Settings:
    """The embedded default: SQLite in the VAR_DIR, migrated."""
    settings = Settings(database_url=f"sqlite:///{var_dir}/loom.db", var_dir=str(var_dir))
    var_dir.mkdir()
    migrate.upgrade(settings.database_url)
    return settings


@pytest.fixture
def postgres(postgres_url, var_dir) -> Iterator[Settings]:
    """DATABASE_URL set to the real PostgreSQL, from an empty schema; emptied after."""
    migrate.downgrade(postgres_url, "base")
    migrate.upgrade(postgres_url)
    try:
        yield Settings(database_url=postgres_url, var_dir=str(var_dir))
    finally:
        migrate.downgrade(postgres_url, "base")  # the session's database is shared with other tests


def test_the_sign_in_printed_works_on_each_database_in_turn(sqlite, postgres):
    on_sqlite = ensure_demo_accounts(sqlite)
    assert list(on_sqlite) == [username for username, _, _ in DEMO_ACCOUNTS]
    assert signs_in(sqlite, on_sqlite)
    assert languages(sqlite) == {"agent": "en,es", "supervisor": "en"}
    on_postgres = ensure_demo_accounts(postgres)  # the run with DATABASE_URL set
    assert signs_in(postgres, on_postgres)
    assert not signs_in(sqlite, on_postgres) and not signs_in(postgres, on_sqlite)  # the bug's mix-up
    for _ in range(2):  # back and forth: each database keeps its own, unchanged
        assert ensure_demo_accounts(sqlite) == on_sqlite and signs_in(sqlite, on_sqlite)
        assert ensure_demo_accounts(postgres) == on_postgres and signs_in(postgres, on_postgres)
    path = credentials_file(sqlite)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(json.loads(path.read_text())) == {database_key(sqlite.database_url), postgres.database_url}


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_kept_password_that_no_longer_matches_is_renewed(database, request):
    settings: Settings = request.getfixturevalue(database)
    first = ensure_demo_accounts(settings)
    set_password(settings, "agent", "changed elsewhere")  # or the file came from another database
    notes: list[str] = []
    again = ensure_demo_accounts(settings, note=notes.append)
    assert again["supervisor"] == first["supervisor"]
    assert again["agent"] != first["agent"] and signs_in(settings, again)
    assert notes == ["demo desk account 'agent': the password kept for it did not match; set a new one"]
    assert ensure_demo_accounts(settings) == again  # and kept from then on


def test_the_old_single_file_is_tried_and_checked(sqlite, postgres, var_dir):
    """The issue's case: the old `user password` file per VAR_DIR, last written by a PostgreSQL run."""
    on_sqlite = ensure_demo_accounts(sqlite)
    on_postgres = ensure_demo_accounts(postgres)
    credentials_file(postgres).unlink()
    (var_dir / "desk-demo-accounts.txt").write_text("".join(f"{u} {p}\n" for u, p in on_postgres.items()))
    notes: list[str] = []
    now_on_sqlite = ensure_demo_accounts(sqlite, note=notes.append)  # the embedded run after it
    assert signs_in(sqlite, now_on_sqlite) and now_on_sqlite != on_sqlite
    assert len(notes) == len(DEMO_ACCOUNTS)  # all renewed: the old file's passwords were PostgreSQL's
    assert ensure_demo_accounts(postgres) == on_postgres  # they match there: kept


def test_an_account_make_run_did_not_make_is_left_alone(sqlite):
    set_password(sqlite, "agent", "a real agent's password")  # created as "Someone else"
    notes: list[str] = []
    shown = ensure_demo_accounts(sqlite, note=notes.append)
    assert list(shown) == [u for u, _, _ in DEMO_ACCOUNTS if u != "agent"] and signs_in(sqlite, shown)
    assert signs_in(sqlite, {"agent": "a real agent's password"})
    assert notes == ["desk account 'agent' was not made by make run: sign in with its own password"]


def test_passwords_are_kept_under_the_database_without_its_password(tmp_path, monkeypatch):
    key = database_key("postgresql://loom:secret@db.example:5432/loom")
    assert key == "postgresql://loom:***@db.example:5432/loom"
    monkeypatch.chdir(tmp_path)
    assert database_key("sqlite:///var/loom.db") == f"sqlite:///{tmp_path.resolve()}/var/loom.db"
