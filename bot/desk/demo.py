"""Demo desk accounts for `make run`: random passwords, kept per database in `$VAR_DIR`.

One `VAR_DIR` may serve several databases (the embedded SQLite file, then `DATABASE_URL`'s PostgreSQL,
and back), each with its own accounts, so `desk-demo-accounts.json` keeps the passwords under the
database they belong to (its URL without a password). Every kept password is also checked against the
account before it is printed: one that no longer matches (the database was re-created, the password
changed) is replaced by a new random one, so the sign-in `make run` prints always works. Only accounts
this module made (their demo display name) are ever given a new password; another account of the same
name is left alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.desk.accounts import Accounts
from bot.desk.config import Lockout
from bot.desk.passwords import hash_password, verify_password
from bot.settings import Settings
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.models import Agent

# The demo agent speaks Spanish too, so a Spanish customer in `make run` is assigned to her.
DEMO_LANGUAGES = {"agent": "en,es"}
DEMO_ACCOUNTS = (
    ("agent", "Ada (demo agent)", "agent"),
    ("supervisor", "Sam (demo supervisor)", "supervisor"),
    ("editor", "Eve (demo content editor)", "editor"),
)
LEGACY_FILE = "desk-demo-accounts.txt"  # before passwords were kept per database: "user password" lines

Kept = dict[str, dict[str, str]]  # database key -> username -> password


def credentials_file(settings: Settings) -> Path:
    """Where the demo passwords are written (readable by the owner only)."""
    return Path(settings.var_dir) / "desk-demo-accounts.json"


def database_key(database_url: str) -> str:
    """The database the passwords belong to: its URL without the password, a SQLite path made absolute."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        url = url.set(database=str(Path(url.database).resolve()))
    return url.render_as_string(hide_password=True)


def read_kept(path: Path) -> Kept:
    """The passwords kept so far; {} for a missing or unreadable file."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(key): {str(user): str(password) for user, password in accounts.items()}
        for key, accounts in data.items()
        if isinstance(accounts, dict)
    }


def read_legacy(var_dir: Path) -> dict[str, str]:
    """Passwords of the old single-database file, tried (and checked) before new ones are made."""
    try:
        lines = (var_dir / LEGACY_FILE).read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(" ", 1) for line in lines if " " in line)


def write_kept(path: Path, kept: Kept) -> None:
    """Write the file readable by its owner only (it never exists with wider permissions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(kept, file, indent=2)


async def _ensure(settings: Settings, known: dict[str, str], note: Callable[[str], None]) -> dict[str, str]:
    """Create missing demo accounts, renew passwords that do not match; username -> working password."""
    database = Database(settings.database_url)
    working: dict[str, str] = {}
    try:
        accounts = Accounts(database, Lockout())
        for username, name, role in DEMO_ACCOUNTS:
            agent = await accounts.get(username)
            if agent is None:
                working[username] = secrets.token_urlsafe(9)
                languages = DEMO_LANGUAGES.get(username, "en")
                await accounts.add(username, name, working[username], role, languages)
                continue
            if agent.display_name != name:
                note(f"desk account {username!r} was not made by make run: sign in with its own password")
                continue
            if not agent.active:
                note(f"demo desk account {username!r} is deactivated in this database: not shown")
                continue
            password = known.get(username)
            if password and await asyncio.to_thread(verify_password, password, agent.password_hash):
                working[username] = password
                continue
            working[username] = secrets.token_urlsafe(9)
            await _set_password(database, agent.id, working[username])
            note(f"demo desk account {username!r}: the password kept for it did not match; set a new one")
    finally:
        await database.close()
    return working


async def _set_password(database: Database, agent_id: int, password: str) -> None:
    password_hash = await asyncio.to_thread(hash_password, password)
    async with database.sessions() as session, session.begin():
        agent = await session.get(Agent, agent_id)
        if agent is not None:
            agent.password_hash = password_hash
            audit.record(session, "system", "demo_password_reset", username=agent.username)


def ensure_demo_accounts(settings: Settings, note: Callable[[str], None] = lambda _: None) -> dict[str, str]:
    """The demo accounts of this database (username → a password that signs in), made when missing.

    `note` hears about passwords that had to be renewed and accounts not shown.
    """
    path = credentials_file(settings)
    kept = read_kept(path)
    key = database_key(settings.database_url)
    known = kept.get(key) or read_legacy(Path(settings.var_dir))
    kept[key] = asyncio.run(_ensure(settings, dict(known), note))
    write_kept(path, kept)
    return kept[key]
