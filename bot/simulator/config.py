"""The simulator's settings, read from the environment once at start-up and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bot.platform_env import SIMULATOR_SECRETS
from bot.simulator.const import (
    INSTAGRAM,
    MESSENGER,
    TWITTER,
    WEBHOOK_PATHS,
    WEBHOOK_TIMEOUT_SECONDS,
    X_API_PREFIX,
)

DEFAULT_PORT = 5080


@dataclass(frozen=True)
class SimulatorConfig:
    """Secrets, ids and addresses shared with our connectors.

    The `x_*` values are the X (Twitter) app's OAuth 1.0a keys and the brand's account.
    The defaults are the demo values the connectors also default to (`bot.platform_env`), so
    `make run` and a plain `rasa run` need no setup.
    `public_url` builds media URLs; without it the address the request came in on is used.
    """

    app_secret: str = SIMULATOR_SECRETS["META_APP_SECRET"]
    verify_token: str = SIMULATOR_SECRETS["META_VERIFY_TOKEN"]
    page_access_token: str = SIMULATOR_SECRETS["META_PAGE_ACCESS_TOKEN"]
    instagram_access_token: str = SIMULATOR_SECRETS["INSTAGRAM_ACCESS_TOKEN"]
    app_id: str = SIMULATOR_SECRETS["META_APP_ID"]
    page_id: str = "100000000000001"
    ig_id: str = "17841400000000001"
    x_consumer_key: str = SIMULATOR_SECRETS["X_CONSUMER_KEY"]
    x_consumer_secret: str = SIMULATOR_SECRETS["X_CONSUMER_SECRET"]
    x_access_token: str = SIMULATOR_SECRETS["X_ACCESS_TOKEN"]
    x_access_token_secret: str = SIMULATOR_SECRETS["X_ACCESS_TOKEN_SECRET"]
    x_user_id: str = SIMULATOR_SECRETS["X_USER_ID"]
    x_screen_name: str = "loomandco"
    webhook_base: str = "http://127.0.0.1:5005/webhooks"
    public_url: str | None = None
    webhook_timeout: float = WEBHOOK_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, port: int = DEFAULT_PORT) -> SimulatorConfig:
        """Build from the META_*, INSTAGRAM_*, X_* and SIM_* variables; `port` sets the default public URL."""
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            app_secret=env.get("META_APP_SECRET") or defaults.app_secret,
            verify_token=env.get("META_VERIFY_TOKEN") or defaults.verify_token,
            page_access_token=env.get("META_PAGE_ACCESS_TOKEN") or defaults.page_access_token,
            instagram_access_token=env.get("INSTAGRAM_ACCESS_TOKEN") or defaults.instagram_access_token,
            app_id=env.get("META_APP_ID") or defaults.app_id,
            page_id=env.get("SIM_PAGE_ID") or defaults.page_id,
            ig_id=env.get("SIM_IG_ID") or defaults.ig_id,
            x_consumer_key=env.get("X_CONSUMER_KEY") or defaults.x_consumer_key,
            x_consumer_secret=env.get("X_CONSUMER_SECRET") or defaults.x_consumer_secret,
            x_access_token=env.get("X_ACCESS_TOKEN") or defaults.x_access_token,
            x_access_token_secret=env.get("X_ACCESS_TOKEN_SECRET") or defaults.x_access_token_secret,
            x_user_id=env.get("X_USER_ID") or defaults.x_user_id,
            x_screen_name=env.get("SIM_X_SCREEN_NAME") or defaults.x_screen_name,
            webhook_base=(env.get("SIM_WEBHOOK_BASE") or defaults.webhook_base).rstrip("/"),
            public_url=(env.get("SIM_PUBLIC_URL") or f"http://127.0.0.1:{port}").rstrip("/"),
        )

    def platform_for_token(self, token: str | None) -> str | None:
        """Which platform an access token belongs to (None: not a token Meta would accept)."""
        if not token:
            return None
        if token == self.page_access_token:
            return MESSENGER
        if token == self.instagram_access_token:
            return INSTAGRAM
        return None

    def webhook_url(self, platform: str) -> str:
        """Where our connector for `platform` receives webhooks."""
        return self.webhook_base.rstrip("/") + WEBHOOK_PATHS[platform]

    def account_id(self, platform: str) -> str:
        """The business side of a conversation: the Page, the IG account, or the brand's X account."""
        if platform == TWITTER:
            return self.x_user_id
        return self.page_id if platform == MESSENGER else self.ig_id

    def x_api_url(self, base: str) -> str:
        """Where our X connector's X_API_URL points, given the simulator's base URL."""
        return base.rstrip("/") + X_API_PREFIX
