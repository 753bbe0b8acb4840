"""The connectors' one settings object: the variables the channels read, names and defaults unchanged."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError
from connectors.agent_reply import desk_token_from_env
from connectors.inbox import InboxSettings
from connectors.limits import WebhookLimits
from connectors.rate_limit import KINDS, RateLimits
from connectors.rest import rest_token_from_env
from connectors.settings import ConnectorSettings


def test_defaults():
    settings = ConnectorSettings.from_env({})
    assert settings == ConnectorSettings()
    assert (settings.redis_url, settings.database_url, settings.var_dir) == (None, None, "var")
    assert (settings.ingress_host, settings.ingress_port) == ("127.0.0.1", 5006)
    assert settings.limits == WebhookLimits() and settings.inbox == InboxSettings()
    assert settings.rate_limits == RateLimits()
    assert settings.desk_api_token is settings.rest_channel_token is settings.metrics_token is None


def test_every_variable_is_read():
    env = {
        "REDIS_URL": "redis://cache/2",
        "DATABASE_URL": "postgresql://loom@db/loom",
        "VAR_DIR": "/srv/loom",
        "DESK_API_TOKEN": "d" * 32,
        "REST_CHANNEL_TOKEN": "r" * 32,
        "METRICS_TOKEN": "m" * 32,
        "META_GRAPH_API_URL": "http://127.0.0.1:5080/v21.0",
        "META_APP_ID": "1234",
        "X_API_URL": "http://127.0.0.1:5080/x",
        "INGRESS_HOST": "0.0.0.0",
        "INGRESS_PORT": "7006",
        "WEBHOOK_MAX_BYTES": "4096",
        "INBOX_SHARDS": "8",
        "META_SEND_RATE": "100/1s",
        "META_GRAPH_RATE": "off",
        "X_SEND_RATE": "50/15m,500/24h",
        "X_TWEET_RATE": "10/1h",
        "RATE_LIMIT_MAX_WAIT": "12.5",
    }
    settings = ConnectorSettings.from_env(env)
    assert settings.redis_url == "redis://cache/2" and settings.database_url == "postgresql://loom@db/loom"
    assert settings.var_dir == "/srv/loom"
    assert (settings.desk_api_token, settings.rest_channel_token, settings.metrics_token) == (
        "d" * 32,
        "r" * 32,
        "m" * 32,
    )
    assert settings.meta_graph_api_url == "http://127.0.0.1:5080/v21.0" and settings.meta_app_id == "1234"
    assert settings.x_api_url == "http://127.0.0.1:5080/x"
    assert (settings.ingress_host, settings.ingress_port) == ("0.0.0.0", 7006)
    assert settings.limits.max_bytes == 4096 and settings.inbox.shards == 8
    rates = settings.rate_limits
    assert [str(r) for kind in KINDS for r in rates.rates(kind, "http://127.0.0.1")] == [
        "100/1s",
        "50/900s",
        "500/86400s",
        "10/3600s",
    ]
    assert rates.max_wait == 12.5
    # the modules' own readers go through it
    assert desk_token_from_env(env) == "d" * 32 and rest_token_from_env(env) == "r" * 32


def test_the_process_environment_is_the_default(monkeypatch):
    monkeypatch.setenv("REST_CHANNEL_TOKEN", "from-the-shell")
    monkeypatch.setenv("WEBHOOK_MAX_BYTES", "2048")
    assert ConnectorSettings.from_env().rest_channel_token == "from-the-shell"
    assert WebhookLimits.from_env().max_bytes == 2048


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INGRESS_PORT": "abc"}, "INGRESS_PORT must be a port number, got 'abc'"),
        ({"REDIS_URL": "localhost"}, "REDIS_URL must start with redis://"),
        ({"DATABASE_URL": "mysql://u:secret@h/d"}, "DATABASE_URL must start with sqlite://"),
    ],
)
def test_a_value_that_cannot_work_names_its_variable(env, message):
    with pytest.raises(ConfigError, match=message) as raised:
        ConnectorSettings.from_env(env)
    assert "secret" not in str(raised.value)
