"""The action server's settings, read from the environment once at start-up and passed down.

Runs in runtime B beside rasa-sdk; the shared part (database, Redis, catalogue, media policy) is
bot/settings.py's `Settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.metrics import metrics_token_from_env
from bot.settings import Settings

TOKEN_ENV = "ACTION_SERVER_TOKEN"
HOST_ENV = "ACTION_SERVER_HOST"
DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True)
class ActionServerSettings:
    """Where the server listens, the secrets it checks, and what the actions' services need.

    `token` (`ACTION_SERVER_TOKEN`) is None when unset: the server then refuses to start unless it is
    told it is a development server (bot/action_server/app.py `action_token`).
    """

    settings: Settings = field(default_factory=Settings)
    host: str = DEFAULT_HOST
    token: str | None = None
    metrics_token: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ActionServerSettings:
        """`ACTION_SERVER_HOST`, `ACTION_SERVER_TOKEN`, `METRICS_TOKEN` and the shared settings."""
        env = os.environ if env is None else env
        return cls(
            settings=Settings.from_env(env),
            host=env.get(HOST_ENV) or DEFAULT_HOST,
            token=env.get(TOKEN_ENV) or None,
            metrics_token=metrics_token_from_env(env),
        )
