"""The stores endpoints.yml names, and this project's changes to Rasa for every way Rasa is started.

`python -m bot.rasa_server` (`make run`, the deployments) installs our changes to how Rasa runs a turn
before Rasa starts. A plain `rasa shell`, `rasa run` or `rasa interactive` in the project loads only what
endpoints.yml and config.yml name, and a server builds its tracker store first, before it loads the
model; so building `TrackerStore` installs the same changes (once), then returns the store the
environment asks for (`bot.conversations.tracker_store`). Rasa takes an ImportError or AttributeError
raised here for a wrong class name and quietly keeps conversations in memory: nothing here may raise one.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from bot.conversations.tracker_store import EnvLockStore, EnvTrackerStore
from bot.rasa_server.server import OPEN_API_REFUSAL, install_changes, open_api

logger = logging.getLogger(__name__)


def install_once(argv: list[str]) -> None:
    """Our changes to Rasa, in a process started by Rasa's own CLI; refuse an open HTTP API there too."""
    if open_api(argv):
        logger.error(OPEN_API_REFUSAL)
        raise SystemExit(OPEN_API_REFUSAL)
    install_changes()


class TrackerStore(EnvTrackerStore):
    """Named in endpoints.yml: installs our changes, then builds the environment's tracker store."""

    def __new__(cls, host: Any = None, domain: Any = None, event_broker: Any = None, **kwargs: Any) -> Any:
        """The SQL tracker store `bot.conversations.tracker_store` picks."""
        install_once(sys.argv)
        return EnvTrackerStore.__new__(cls, host, domain, event_broker, **kwargs)


LockStore = EnvLockStore
