"""The connectors' settings: every environment variable the Rasa-side channels read, in one place.

Read when Rasa builds the channels (start-up), never at import or per request; `from_env` takes any
mapping, so tests pass dicts. Runtime A (Rasa's Python 3.10): standard library and dataclasses only,
plus the stdlib-only helpers of bot/settings.py. Platform secrets (META_*, X_* credentials) come
through credentials.yml, which Rasa fills from the environment; only the optional platform settings
below are read here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.settings import REDIS_SCHEMES, SQL_SCHEMES, port_setting, url_setting
from connectors.inbox import InboxSettings
from connectors.limits import WebhookLimits
from connectors.rate_limit import RateLimits
from connectors.state import DEFAULT_VAR_DIR

DEFAULT_INGRESS_HOST = "127.0.0.1"
DEFAULT_INGRESS_PORT = 5006


@dataclass(frozen=True)
class ConnectorSettings:
    """What the channels, their inbox and their state need to know.

    `redis_url` (`REDIS_URL`): the inbox (Redis Streams) and the connectors' state go to Redis; else
    the inbox is a table in `database_url` (`DATABASE_URL`) or `$VAR_DIR/inbox.db`, and the state
    `$VAR_DIR/connectors.db`. `desk_api_token` turns on the agent-reply route, `rest_channel_token` the
    REST channel, `metrics_token` GET /metrics. `meta_graph_api_url`, `meta_app_id` and `x_api_url`
    are credentials.yml's optional keys' fallbacks (the local simulator sets them). `rate_limits`: the
    proactive limits on outbound platform calls (`META_SEND_RATE`, `META_GRAPH_RATE`, `X_SEND_RATE`,
    `X_TWEET_RATE`, `RATE_LIMIT_MAX_WAIT`; connectors/rate_limit.py), shared through `redis_url`.
    """

    redis_url: str | None = None
    database_url: str | None = None
    var_dir: str = DEFAULT_VAR_DIR
    desk_api_token: str | None = None
    rest_channel_token: str | None = None
    metrics_token: str | None = None
    meta_graph_api_url: str | None = None
    meta_app_id: str | None = None
    x_api_url: str | None = None
    ingress_host: str = DEFAULT_INGRESS_HOST
    ingress_port: int = DEFAULT_INGRESS_PORT
    limits: WebhookLimits = field(default_factory=WebhookLimits)
    inbox: InboxSettings = field(default_factory=InboxSettings)
    rate_limits: RateLimits = field(default_factory=RateLimits)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConnectorSettings:
        """The settings in `env` (default: the process environment); a value that cannot work stops here."""
        env = os.environ if env is None else env
        return cls(
            redis_url=url_setting(env, "REDIS_URL", REDIS_SCHEMES),
            database_url=url_setting(env, "DATABASE_URL", SQL_SCHEMES),
            var_dir=env.get("VAR_DIR") or DEFAULT_VAR_DIR,
            desk_api_token=env.get("DESK_API_TOKEN") or None,
            rest_channel_token=env.get("REST_CHANNEL_TOKEN") or None,
            metrics_token=env.get("METRICS_TOKEN") or None,
            meta_graph_api_url=env.get("META_GRAPH_API_URL") or None,
            meta_app_id=env.get("META_APP_ID") or None,
            x_api_url=env.get("X_API_URL") or None,
            ingress_host=env.get("INGRESS_HOST") or DEFAULT_INGRESS_HOST,
            ingress_port=port_setting(env, "INGRESS_PORT", DEFAULT_INGRESS_PORT),
            limits=WebhookLimits.from_env(env),
            inbox=InboxSettings.from_env(env),
            rate_limits=RateLimits.from_env(env),
        )
