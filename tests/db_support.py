"""Each test's own database at head, copied from a template migrated once per session.

Migrating down and up (ten Alembic migrations) for every test was a large part of the database tests'
set-up. The schema is now built once per session and kind (SQLite or PostgreSQL, with or without Rasa's
`events` table) and each test gets a copy: a file copy of a migrated SQLite template, or a PostgreSQL
database created from a migrated template database (`CREATE DATABASE ... TEMPLATE`, a few tens of
milliseconds) and dropped with its connections after the test. A copy is what a fresh migration gives,
so nothing one test writes, creates or holds (rows, sequences, tables, advisory locks, connections)
reaches the next, and the session's shared `postgres_url` database is not touched at all.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from bot.conversations.tail import EVENTS
from bot.storage import migrate
from bot.storage.db import create_sync_engine


def build_schema(url: str, *, rasa_events: bool) -> None:
    """Migrate an empty database to head; add the columns of Rasa's tracker-store table if asked."""
    migrate.upgrade(url)
    if rasa_events:
        engine = create_sync_engine(url)
        try:
            EVENTS.metadata.create_all(engine)  # the columns of Rasa's SQL tracker store that the desk reads
        finally:
            engine.dispose()


class DatabaseTemplates:
    """Migrated templates, built on first use; copies of them for single tests."""

    def __init__(self, url_of: Callable[[str], str], admin: Callable[[str], None], directory: Path) -> None:
        self.url_of = url_of  # the URL of a database on the test server, by name
        self.admin = admin  # runs CREATE/DROP DATABASE on that server, outside a transaction
        self.directory = directory
        self.prefix = f"loom_test_{uuid.uuid4().hex[:10]}"
        self.numbers = itertools.count(1)
        self.sqlite_templates: dict[bool, Path] = {}
        self.postgres_templates: dict[bool, str] = {}

    def sqlite_copy(self, target: Path, *, rasa_events: bool = False) -> str:
        """The URL of a new SQLite file at `target` holding an empty schema at head."""
        if rasa_events not in self.sqlite_templates:
            self.sqlite_templates[rasa_events] = self._sqlite_template(rasa_events)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.sqlite_templates[rasa_events], target)
        return f"sqlite:///{target}"

    def postgres_copy(self, *, rasa_events: bool = False) -> str:
        """The URL of a new PostgreSQL database holding an empty schema at head; `drop` it after."""
        if rasa_events not in self.postgres_templates:
            self.postgres_templates[rasa_events] = self._postgres_template(rasa_events)
        name = f"{self.prefix}_{next(self.numbers)}"
        self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.postgres_templates[rasa_events]}"')
        return self.url_of(name)

    def drop(self, url: str) -> None:
        """Drop a copy, ending whatever connections a test left open (and the locks they hold)."""
        self.admin(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')

    def close(self) -> None:
        """Drop the PostgreSQL templates (the SQLite ones go with pytest's temporary directories)."""
        for name in self.postgres_templates.values():
            self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.postgres_templates.clear()

    def _sqlite_template(self, rasa_events: bool) -> Path:
        path = Path(tempfile.mkdtemp(dir=self.directory)) / "head.db"  # a new one if a build failed
        build_schema(f"sqlite:///{path}", rasa_events=rasa_events)
        # Our engines put the file in WAL mode: no page may be left in the -wal file alone, so that the
        # one file is the whole database (closing the last connection checkpoints too; this makes sure).
        connection = sqlite3.connect(path)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
        return path

    def _postgres_template(self, rasa_events: bool) -> str:
        name = f"{self.prefix}_head{'_events' if rasa_events else ''}"
        self.admin(f'CREATE DATABASE "{name}"')
        try:
            build_schema(self.url_of(name), rasa_events=rasa_events)
            # A template must have no sessions when it is copied: nobody gets its URL, and nobody can connect.
            self.admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        except BaseException:
            self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # the next test builds it anew
            raise
        return name
