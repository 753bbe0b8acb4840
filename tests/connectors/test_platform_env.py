"""The channels' platform settings: the real ones from the environment or the simulator's, never a mix."""

from __future__ import annotations

import pytest

from bot.platform_env import (
    OPTIONAL_PLATFORM_VARIABLES,
    SIMULATOR_SECRETS,
    PlatformConfigError,
    channel_settings,
    platform_settings,
    required_platform_variables,
)
from connectors.meta_input import ConnectorConfigError, MetaConfig
from connectors.twitter import XConfig

MESSENGER = {
    "app_secret": "META_APP_SECRET",
    "verify_token": "META_VERIFY_TOKEN",
    "page_access_token": "META_PAGE_ACCESS_TOKEN",
}
OPTIONAL = {"graph_api_url": "META_GRAPH_API_URL", "app_id": "META_APP_ID"}
REAL = {name: f"real-{name.lower()}" for name in required_platform_variables()}


def test_nothing_set_means_the_simulator_on_its_port():
    values = channel_settings(MESSENGER, OPTIONAL, None, {"SIM_PORT": "5180"})
    assert values.simulated
    assert values.values == {
        "app_secret": SIMULATOR_SECRETS["META_APP_SECRET"],
        "verify_token": SIMULATOR_SECRETS["META_VERIFY_TOKEN"],
        "page_access_token": SIMULATOR_SECRETS["META_PAGE_ACCESS_TOKEN"],
        "graph_api_url": "http://127.0.0.1:5180/v21.0",
        "app_id": SIMULATOR_SECRETS["META_APP_ID"],
    }


def test_the_real_environment_is_read_and_optional_addresses_left_to_the_platform():
    values = channel_settings(MESSENGER, OPTIONAL, None, REAL)
    assert not values.simulated
    assert values.values == {key: REAL[name] for key, name in MESSENGER.items()}
    assert MetaConfig.from_credentials(
        None, "page_access_token", "META_PAGE_ACCESS_TOKEN", REAL
    ).graph_api_url == ("https://graph.facebook.com/v21.0")


@pytest.mark.parametrize("name", [*required_platform_variables(), *OPTIONAL_PLATFORM_VARIABLES])
def test_any_platform_variable_in_the_environment_turns_the_simulator_off(name):
    """Even another channel's: a half-real set-up never accepts the simulator's public secrets."""
    env = {name: "real"}
    for required, config in (
        (
            MESSENGER,
            lambda: MetaConfig.from_credentials(None, "page_access_token", "META_PAGE_ACCESS_TOKEN", env),
        ),
        (None, lambda: XConfig.from_credentials(None, env)),
    ):
        with pytest.raises(ConnectorConfigError, match="missing") as refused:
            config()
        assert "sim-" not in str(refused.value)
        if required:
            assert all(n in str(refused.value) for n in required.values() if n != name)


def test_a_value_in_credentials_yml_wins_and_means_real():
    credentials = {"app_secret": "from-file", "verify_token": "v", "page_access_token": "t"}
    values = channel_settings(MESSENGER, OPTIONAL, credentials, {})
    assert not values.simulated and values.values["app_secret"] == "from-file"
    with pytest.raises(PlatformConfigError, match="META_PAGE_ACCESS_TOKEN"):
        channel_settings(MESSENGER, OPTIONAL, {"app_secret": "from-file"}, {})


def test_the_x_channel_defaults_to_the_simulator_x_api():
    config = XConfig.from_credentials(None, {})
    assert config.api_url == "http://127.0.0.1:5080/x"
    assert config.credentials.consumer_secret == SIMULATOR_SECRETS["X_CONSUMER_SECRET"]
    assert config.user_id == SIMULATOR_SECRETS["X_USER_ID"]


def test_the_stack_rule_wants_all_or_none():
    assert platform_settings({}).simulated
    assert platform_settings(REAL).values == REAL
    with pytest.raises(PlatformConfigError, match="X_USER_ID"):
        platform_settings({k: v for k, v in REAL.items() if k != "X_USER_ID"})
