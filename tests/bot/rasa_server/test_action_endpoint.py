"""Rasa's action endpoint: the URL and the secret from the environment, or a local action server's file.

endpoints.yml holds no `${VAR}` (Rasa would stop on an unset one), so these decide what Rasa sends.
"""

from __future__ import annotations

import logging

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from bot.platform_env import required_platform_variables
from bot.rasa_server import action_endpoint, stores
from bot.rasa_server.action_endpoint import configure
from bot.settings import PROJECT_ROOT, action_token_file, write_private


def endpoint(url: str = "http://127.0.0.1:5055/webhook", **kwargs) -> EndpointConfig:
    return EndpointConfig(url, **kwargs)


def test_the_environment_sets_url_and_bearer():
    config = endpoint()
    configure(config, {"ACTION_ENDPOINT_URL": "http://actions:5055/webhook", "ACTION_SERVER_TOKEN": "s3cret"})
    assert config.url == "http://actions:5055/webhook"
    assert config.headers == {"Authorization": "Bearer s3cret"}
    assert config.params == {}  # never in the query string


def test_a_local_action_server_s_file_gives_the_secret_as_it_is_now(tmp_path):
    write_private(action_token_file(tmp_path, 5155), "from-the-file\n")
    config = endpoint("http://127.0.0.1:5155/webhook")
    configure(config, {"VAR_DIR": str(tmp_path)})
    assert config.headers == {"Authorization": "Bearer from-the-file"}
    write_private(action_token_file(tmp_path, 5155), "restarted")  # `make actions` again: a new secret
    configure(config, {"VAR_DIR": str(tmp_path)})
    assert config.headers == {"Authorization": "Bearer restarted"}
    assert (action_token_file(tmp_path, 5155).stat().st_mode & 0o777) == 0o600


def test_a_remote_action_server_never_gets_a_local_file_s_secret(tmp_path, caplog):
    write_private(action_token_file(tmp_path, 5055), "local-only")
    config = endpoint("http://actions.internal:5055/webhook")
    with caplog.at_level(logging.ERROR):
        configure(config, {"VAR_DIR": str(tmp_path)})
    assert config.headers == {}
    assert "ACTION_SERVER_TOKEN" in caplog.text and "make actions" in caplog.text


def test_a_header_in_endpoints_yml_is_kept_and_configuring_happens_once():
    config = endpoint(headers={"authorization": "Bearer from-yml"})
    configure(config, {"ACTION_SERVER_TOKEN": "env"})
    configure(config, {"ACTION_ENDPOINT_URL": "http://elsewhere/webhook"})
    assert config.headers == {"authorization": "Bearer from-yml"}
    assert config.url == "http://127.0.0.1:5055/webhook"


def test_every_remote_action_configures_the_agent_s_endpoint(monkeypatch):
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "tok")
    monkeypatch.delenv("ACTION_ENDPOINT_URL", raising=False)
    action_endpoint.install()
    action_endpoint.install()  # idempotent
    config = endpoint()
    RemoteAction("action_answer_order", config)
    assert config.headers == {"Authorization": "Bearer tok"}


def test_the_project_s_endpoints_yml_needs_no_variable():
    """What `rasa shell` reads: parses with nothing set, and names our stores."""
    config = read_endpoint_config(str(PROJECT_ROOT / "endpoints.yml"), "action_endpoint")
    assert config.url == "http://127.0.0.1:5055/webhook" and config.headers == {}
    stores_config = read_endpoint_config(str(PROJECT_ROOT / "endpoints.yml"), "tracker_store")
    assert stores_config.type == "bot.rasa_server.stores.TrackerStore"


def test_a_plain_rasa_run_refuses_an_open_http_api(monkeypatch):
    installed = []
    monkeypatch.setattr(stores, "install_changes", lambda: installed.append(True))
    with pytest.raises(SystemExit, match="RASA_JWT_SECRET"):
        stores.install_once(["rasa", "run", "--enable-api", "-i", "127.0.0.1"], {})
    assert installed == []
    stores.install_once(["rasa", "run", "--enable-api", "--jwt-secret=x", "--interface=127.0.0.1"], {})
    stores.install_once(["rasa", "shell"], {})
    assert installed == [True, True]


@pytest.mark.parametrize(
    "argv", [["rasa", "run"], ["rasa", "run", "-i", "0.0.0.0"], ["rasa", "run", "--interface=10.0.0.5"]]
)
def test_the_simulator_s_public_secrets_never_listen_beyond_loopback(monkeypatch, argv):
    monkeypatch.setattr(stores, "install_changes", lambda: None)
    with pytest.raises(SystemExit, match=r"-i 127\.0\.0\.1"):
        stores.install_once(argv, {})
    stores.install_once(argv, {name: "real" for name in required_platform_variables()})  # real platforms
    stores.install_once([*argv[:2], "-i", "127.0.0.1"], {})
