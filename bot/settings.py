"""One typed settings object, read from the environment once at start-up and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.conversations.tracker_store import tracker_database_url

# The project checkout: where the YAML files editors change live (escalation.yml, desk.yml, ...).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = "var"


class ConfigError(ValueError):
    """A setting cannot work; the message names the variable (or file) and what is wrong with it."""


@dataclass(frozen=True)
class Settings:
    """What the service needs to know about its surroundings.

    `database_url` is a SQLAlchemy URL in its plain form (`sqlite:///path`, `postgresql://user@host/db`);
    the storage layer picks the drivers. Without `DATABASE_URL` it is a SQLite file in `VAR_DIR`
    (default `var/`, where logs and local state also go). `redis_url` is optional: without it,
    in-process fallbacks are used.

    `trackers_url` is where Rasa keeps conversations (its SQL `events` table, which the desk, the
    monitoring worker and escalation read): `DATABASE_URL`'s database, else `$VAR_DIR/tracker.db`,
    as bot/conversations/tracker_store.py `tracker_database_url` decides for Rasa itself.
    """

    database_url: str = f"sqlite:///{DEFAULT_VAR_DIR}/loom.db"
    redis_url: str | None = None
    var_dir: str = DEFAULT_VAR_DIR
    trackers_url: str | None = None  # None: the SQLite file in var_dir (what Rasa uses without DATABASE_URL)

    @property
    def tracker_database_url(self) -> str:
        """The database holding Rasa's `events` table (the same choice Rasa's tracker store makes)."""
        return self.trackers_url or tracker_database_url({"VAR_DIR": self.var_dir})

    @property
    def catalog_dir(self) -> Path:
        """Catalogue images (`images/`) and the search index (`index/`)."""
        return Path(self.var_dir) / "catalog"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (`DATABASE_URL`, `REDIS_URL`)."""
        env = os.environ if env is None else env
        var_dir = env.get("VAR_DIR") or DEFAULT_VAR_DIR
        return cls(
            database_url=env.get("DATABASE_URL") or f"sqlite:///{var_dir}/loom.db",
            redis_url=env.get("REDIS_URL") or None,
            var_dir=var_dir,
            trackers_url=tracker_database_url({**env, "VAR_DIR": var_dir}),
        )
