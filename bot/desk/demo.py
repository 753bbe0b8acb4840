"""Demo desk accounts for `make run`: random passwords, kept in `$VAR_DIR/desk-demo-accounts.txt`."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

from bot.desk.accounts import Accounts
from bot.desk.config import Lockout
from bot.settings import Settings
from bot.storage.db import Database

DEMO_ACCOUNTS = (
    ("agent", "Ada (demo agent)", "agent"),
    ("supervisor", "Sam (demo supervisor)", "supervisor"),
)


def credentials_file(settings: Settings) -> Path:
    """Where the demo passwords are written (readable by the owner only)."""
    return Path(settings.var_dir) / "desk-demo-accounts.txt"


async def _ensure(settings: Settings, known: dict[str, str]) -> dict[str, str]:
    database = Database(settings.database_url)
    try:
        accounts = Accounts(database, Lockout())
        for username, name, role in DEMO_ACCOUNTS:
            if await accounts.get(username) is None:
                known[username] = secrets.token_urlsafe(9)
                await accounts.add(username, name, known[username], role)
    finally:
        await database.close()
    return known


def ensure_demo_accounts(settings: Settings) -> dict[str, str]:
    """The demo accounts (username → password), creating any that are missing."""
    path = credentials_file(settings)
    known: dict[str, str] = {}
    if path.exists():
        known = dict(line.split(" ", 1) for line in path.read_text().splitlines() if " " in line)
    known = asyncio.run(_ensure(settings, known))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{user} {password}\n" for user, password in known.items()))
    os.chmod(path, 0o600)
    return known
