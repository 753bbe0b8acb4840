"""Fixtures shared by both runtimes: real PostgreSQL and Redis on this machine; the test markers.

Each test session gets its own PostgreSQL database (created on the server named by TEST_POSTGRES_URL,
default the local `test` database's server) and drops it at the end, so runs never see each other's
data. Runtime A has psycopg2 (from Rasa), runtime B psycopg 3; whichever is installed is used.
"""

from __future__ import annotations

import ast
import functools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import pytest

TEST_POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _admin(statement: str) -> None:
    """Run a statement outside a transaction (CREATE/DROP DATABASE) on the test server."""
    try:
        import psycopg

        with psycopg.connect(TEST_POSTGRES_URL, autocommit=True) as connection:
            connection.execute(statement)
    except ImportError:
        import psycopg2

        connection = psycopg2.connect(TEST_POSTGRES_URL)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database for this test session."""
    name = f"loom_test_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(TEST_POSTGRES_URL, name)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the local Redis server."""
    return TEST_REDIS_URL


# The markers (pyproject.toml declares them; `make test-quick` runs what has none of them). Most are
# given here from what a test uses, so a new test gets its marker without anyone remembering to add it;
# a test that is slow for its own reasons says `@pytest.mark.slow` (or `pytestmark`) itself.
TESTS = Path(__file__).resolve().parent
# Fixtures that start the whole stack (tests/e2e/conftest.py, tests/security/test_internal_surface.py).
STACK_FIXTURES = {"stack", "default_stack", "production_stack", "surface"}


@functools.cache
def imports_of(path: Path) -> frozenset[str]:
    """Top-level names of the modules a test file imports, anywhere in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return frozenset(names)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`browser` for tests that drive Chromium, `e2e` for those that run the services."""
    for item in items:
        path = Path(str(item.fspath))
        if "playwright" in imports_of(path):
            item.add_marker(pytest.mark.browser)
        if TESTS / "e2e" in path.parents or STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


# Databases at head for single tests, copied from templates migrated once per session (tests/db_support.py).
# Imported when first used: runtime A runs these conftests without our storage stack's drivers.
if TYPE_CHECKING:
    from .db_support import DatabaseTemplates


@pytest.fixture(scope="session")
def database_templates(tmp_path_factory) -> Iterator[DatabaseTemplates]:
    """Migrated SQLite and PostgreSQL templates for this session, built on first use."""
    from .db_support import DatabaseTemplates

    url_of = functools.partial(_with_database, TEST_POSTGRES_URL)
    templates = DatabaseTemplates(url_of, _admin, tmp_path_factory.mktemp("db-templates"))
    try:
        yield templates
    finally:
        templates.close()


@pytest.fixture
def fresh_database(database_templates, tmp_path) -> Iterator[Callable[..., str]]:
    """`fresh_database(backend, rasa_events=False)`: the URL of this test's own empty schema at head.

    `backend` is "sqlite" (the file `tmp_path/loom.db`) or "postgresql" (a database of its own on the
    test server, dropped after the test with any connections left open). `rasa_events` adds the
    columns of Rasa's tracker-store `events` table that the desk reads.
    """
    made: list[str] = []

    def make(backend: str, *, rasa_events: bool = False) -> str:
        if backend == "sqlite":
            return database_templates.sqlite_copy(tmp_path / "loom.db", rasa_events=rasa_events)
        if backend != "postgresql":
            raise ValueError(f"backend must be sqlite or postgresql, got {backend!r}")
        made.append(database_templates.postgres_copy(rasa_events=rasa_events))
        return made[-1]

    try:
        yield make
    finally:
        for url in made:
            database_templates.drop(url)
