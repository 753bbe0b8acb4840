"""Insert-or-ignore on PostgreSQL and SQLite alike (`ON CONFLICT DO NOTHING`), for idempotent writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_ignore(session: AsyncSession, table: Table, conflict: Sequence[str]) -> Any:
    """An INSERT into `table` that does nothing when a row with the same `conflict` columns exists."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    raise NotImplementedError(f"no insert-or-ignore for {dialect}")
