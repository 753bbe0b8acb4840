"""Monitoring tests share the desk's fixtures: PostgreSQL and SQLite, agents, Rasa-shaped events."""

from __future__ import annotations

from ..desk.conftest import (  # noqa: F401  (fixtures are found by name)
    PASSWORD,
    accounts,
    config,
    database,
    database_url,
    open_ticket,
    people,
    store_event,
    user_event,
)
