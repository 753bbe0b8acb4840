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
import os
import sys
from collections.abc import Mapping
from typing import Any

from bot.conversations.tracker_store import EnvLockStore, EnvTrackerStore
from bot.platform_env import platform_settings
from bot.rasa_server.server import OPEN_API_REFUSAL, install_changes, open_api
from bot.settings import LOOPBACK_HOSTS

logger = logging.getLogger(__name__)

EXPOSED_SIMULATOR_REFUSAL = (
    "with no META_* or X_* variable set the channels take the local simulator's public demo secrets, and "
    "`rasa run` listens on every interface (0.0.0.0) unless told otherwise: anyone on the network could "
    "sign webhooks. Add `-i 127.0.0.1` for a local run, or set the platforms' variables "
    "(connectors/README.md)"
)


def interface(argv: list[str]) -> str:
    """The address `rasa run` listens on (`-i` / `--interface`; Rasa's default is every interface)."""
    for index, arg in enumerate(argv):
        name, _, value = arg.partition("=")
        if name in ("-i", "--interface"):
            return value or (argv[index + 1] if index + 1 < len(argv) else "")
    return "0.0.0.0"


def refusal(argv: list[str], env: Mapping[str, str | None]) -> str | None:
    """Why this command line must not start: an open HTTP API, or the simulator's secrets on the network."""
    if open_api(argv):
        return OPEN_API_REFUSAL
    if "run" in argv[1:2] and interface(argv) not in LOOPBACK_HOSTS and platform_settings(env).simulated:
        return EXPOSED_SIMULATOR_REFUSAL
    return None


def install_once(argv: list[str], env: Mapping[str, str | None] | None = None) -> None:
    """Our changes to Rasa, in a process started by Rasa's own CLI, unless the command line is unsafe."""
    problem = refusal(argv, os.environ if env is None else env)
    if problem:
        logger.error(problem)
        raise SystemExit(problem)
    install_changes()


class TrackerStore(EnvTrackerStore):
    """Named in endpoints.yml: installs our changes, then builds the environment's tracker store."""

    def __new__(cls, host: Any = None, domain: Any = None, event_broker: Any = None, **kwargs: Any) -> Any:
        """The SQL tracker store `bot.conversations.tracker_store` picks."""
        install_once(sys.argv)
        return EnvTrackerStore.__new__(cls, host, domain, event_broker, **kwargs)


LockStore = EnvLockStore
