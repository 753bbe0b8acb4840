"""Open SQLite connections kept in a pool for Rasa's tracker store, instead of one per call.

SQLAlchemy 1.4 (Rasa 3.6's) opens a file database with NullPool: every tracker read and every save
opened a new SQLite connection and closed it again, about a twelfth of the Rasa server's event loop
at 20 conversations (bench/PROFILE.md). Rasa builds its engine with `create_engine_kwargs(url)`, which
has options for PostgreSQL only; `install()` (called by `python -m bot.rasa_server`) adds a small
QueuePool for SQLite. Rasa's store is synchronous and runs on the event loop's thread;
`check_same_thread` is off only so the pool may hand a connection to whichever thread asks, as
SQLAlchemy advises for pooled SQLite. PostgreSQL keeps Rasa's options (it is pooled already).
"""

from __future__ import annotations

from typing import Any

POOL_SIZE = 2  # connections kept open: one for the turn in progress, one for a reader beside it


def engine_kwargs(url: Any, rasa_kwargs: Any) -> dict[str, Any]:
    """Rasa's engine options for `url`, with a pool of kept connections when it is SQLite."""
    kwargs = dict(rasa_kwargs(url))
    if str(url).startswith("sqlite") and ":memory:" not in str(url) and str(url) != "sqlite://":
        from sqlalchemy.pool import QueuePool

        kwargs.update(poolclass=QueuePool, pool_size=POOL_SIZE, connect_args={"check_same_thread": False})
    return kwargs


def install() -> None:
    """Make Rasa's SQL tracker store build SQLite engines with the pool (idempotent)."""
    import rasa.core.tracker_store as tracker_store

    rasa_kwargs = tracker_store.create_engine_kwargs
    if getattr(rasa_kwargs, "pooled_sqlite", False):
        return

    def create_engine_kwargs(url: Any) -> dict[str, Any]:
        return engine_kwargs(url, rasa_kwargs)

    create_engine_kwargs.pooled_sqlite = True  # type: ignore[attr-defined]
    tracker_store.create_engine_kwargs = create_engine_kwargs
