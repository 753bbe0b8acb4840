"""Configuration fails closed (issue #21): no half-real platforms, no missing secret, no open Rasa API.

`make run` never mixes real and simulated platform secrets, every shared secret exists, and Rasa never
starts with its API open or a secret on its command line. Tested on the functions
bot/devtools/devstack.py, bot/devtools/launcher.py and bot/rasa_server/server.py decide with, and on the
real commands (`python -m bot.devtools.launcher`, `python -m bot.rasa_server`), which stop before
starting anything.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.devtools.devstack import (
    RASA_PYTHON,
    ROOT,
    ConfigurationError,
    Ports,
    Stack,
    platform_env,
    secrets_defaults,
    simulator_defaults,
)
from bot.platform_env import OPTIONAL_PLATFORM_VARIABLES, required_platform_variables
from bot.rasa_server.server import ConfigurationError as RasaConfigurationError
from bot.rasa_server.server import rasa_arguments
from bot.simulator.config import SimulatorConfig

PORTS = Ports(6005, 6055, 6080, 6090)  # never started here
REQUIRED = [
    "META_APP_SECRET",
    "META_VERIFY_TOKEN",
    "META_PAGE_ACCESS_TOKEN",
    "INSTAGRAM_ACCESS_TOKEN",
    "X_CONSUMER_KEY",
    "X_CONSUMER_SECRET",
    "X_ACCESS_TOKEN",
    "X_ACCESS_TOKEN_SECRET",
    "X_USER_ID",
]
PLATFORM = [*REQUIRED, *OPTIONAL_PLATFORM_VARIABLES]
REAL = {name: f"real-{name.lower()}" for name in REQUIRED}


@pytest.fixture
def clean_env(monkeypatch) -> None:
    """No platform variable inherited from the shell running the tests."""
    for name in PLATFORM:
        monkeypatch.delenv(name, raising=False)


def test_credentials_yml_needs_no_variable_and_every_channel_s_is_required():
    """The channels read the platforms' variables themselves (bot/platform_env.py).

    No `${VAR}` in Rasa's files: Rasa would stop a plain `rasa shell` on an unset one.
    """
    assert required_platform_variables() == REQUIRED
    for name in ("credentials.yml", "endpoints.yml"):
        lines = (ROOT / name).read_text().splitlines()
        assert not [line for line in lines if "${" in line and not line.lstrip().startswith("#")], name


def test_no_real_variable_means_the_simulator_and_its_public_values():
    settings, simulator = platform_env({}, PORTS)
    assert simulator is True and settings == simulator_defaults(PORTS)
    assert settings["META_APP_SECRET"] == SimulatorConfig().app_secret


@pytest.mark.parametrize("name", PLATFORM)
def test_any_one_real_variable_means_all_are_needed(name):
    with pytest.raises(ConfigurationError) as refused:
        platform_env({name: "real-value", "SIM_PORT": "5080"}, PORTS)
    message = str(refused.value)
    missing = [other for other in REQUIRED if other != name]
    assert all(other in message for other in missing), message
    assert "simulator" in message


def test_a_half_real_setup_lists_exactly_what_is_missing():
    partial = {name: value for name, value in REAL.items() if not name.startswith("X_")}
    with pytest.raises(ConfigurationError) as refused:
        platform_env(partial, PORTS)
    missing = str(refused.value).split(" but ", 1)[1].split(" are missing", 1)[0]
    assert missing == "X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET, X_USER_ID"


def test_all_real_variables_mean_no_simulator_and_nothing_simulated():
    settings, simulator = platform_env(REAL, PORTS)
    assert simulator is False and settings == {}


def test_a_stack_with_real_platforms_does_not_start_the_simulator(clean_env):
    stack = Stack(PORTS, env=REAL)
    assert [service.name for service in stack.services] == ["actions", "rasa", "desk", "monitoring"]
    for name, value in REAL.items():
        assert stack.env[name] == value
    assert not any(stack.env.get(name) for name in OPTIONAL_PLATFORM_VARIABLES)  # the real platforms' URLs
    assert "SIM_WEBHOOK_BASE" not in stack.env


def test_a_stack_with_a_partial_real_setup_is_refused(clean_env, monkeypatch):
    monkeypatch.setenv("META_APP_SECRET", "real-secret")  # inherited, as from the shell of `make run`
    with pytest.raises(ConfigurationError):
        Stack(PORTS)


def test_a_stack_without_platform_variables_uses_the_simulator(clean_env):
    stack = Stack(PORTS)
    assert [service.name for service in stack.services] == [
        "simulator",
        "actions",
        "rasa",
        "desk",
        "monitoring",
    ]
    assert stack.env["META_APP_SECRET"] == SimulatorConfig().app_secret
    assert stack.env["META_GRAPH_API_URL"].startswith(stack.simulator_url)


def test_tests_can_force_the_simulator_whatever_the_shell_has(clean_env, monkeypatch):
    monkeypatch.setenv("META_APP_SECRET", "real-secret")
    stack = Stack(PORTS, simulator=True)
    assert stack.services[0].name == "simulator"
    assert stack.env["META_APP_SECRET"] == SimulatorConfig().app_secret


def test_make_run_stops_on_a_partial_real_setup(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in PLATFORM}
    env.update(X_CONSUMER_SECRET="real-secret", VAR_DIR=str(tmp_path), RASA_PORT="6105")
    done = subprocess.run(
        [sys.executable, "-m", "bot.devtools.launcher"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "X_CONSUMER_KEY" in done.stderr and "META_APP_SECRET" in done.stderr, done.stderr[-2000:]
    assert "starting" not in done.stdout and not (tmp_path / "log").exists()  # nothing was started
    assert not (tmp_path / "loom.db").exists()


def test_every_shared_secret_is_generated_random_and_long():
    first, second = secrets_defaults({}), secrets_defaults({})
    names = {
        "RASA_JWT_SECRET",
        "DESK_API_TOKEN",
        "REST_CHANNEL_TOKEN",
        "ACTION_SERVER_TOKEN",
        "METRICS_TOKEN",
    }
    assert set(first) == set(second) == names
    assert all(len(value) >= 32 and first[name] != second[name] for name, value in first.items())
    assert len(set(first.values())) == len(names)  # never one secret for two services


def test_set_secrets_are_kept_and_the_old_rasa_token_name_counts():
    assert "METRICS_TOKEN" not in secrets_defaults({"METRICS_TOKEN": "mine"})
    assert "RASA_JWT_SECRET" not in secrets_defaults({"RASA_API_TOKEN": "older-name"})


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--enable-api", "--auth-token=abc"],
        ["run", "--auth-token", "abc"],
        ["run", "--enable-api", "--jwt-secret", "abc"],
        ["run", "--jwt-private-key=abc"],
    ],
)
def test_rasa_refuses_secrets_on_its_command_line(argv):
    with pytest.raises(RasaConfigurationError, match="command line"):
        rasa_arguments(argv, {"RASA_JWT_SECRET": "s" * 32})


def test_rasa_with_its_api_needs_the_jwt_secret_from_the_environment():
    with pytest.raises(RasaConfigurationError, match="RASA_JWT_SECRET"):
        rasa_arguments(["run", "--enable-api"], {})
    secret = "s" * 32
    assert rasa_arguments(["run", "--enable-api"], {"RASA_JWT_SECRET": secret})[-3:] == [
        f"--jwt-secret={secret}",
        "--jwt-method",
        "HS256",
    ]
    assert rasa_arguments(["run", "--enable-api"], {"RASA_API_TOKEN": secret})[-3] == f"--jwt-secret={secret}"
    # token_urlsafe secrets may start with "-": as a separate argument argparse would take it for an option
    assert "--jwt-secret=-x" + "s" * 31 in rasa_arguments(
        ["run", "--enable-api"], {"RASA_JWT_SECRET": "-x" + "s" * 31}
    )
    assert rasa_arguments(["run", "--port", "5005"], {}) == ["run", "--port", "5005"]  # no API: no secret


@pytest.mark.parametrize("argv", [["run", "--enable-api"], ["run", "--enable-api", "--auth-token=abc"]])
def test_the_rasa_command_stops_before_serving(argv):
    env = {k: v for k, v in os.environ.items() if k not in ("RASA_JWT_SECRET", "RASA_API_TOKEN")}
    done = subprocess.run(
        [str(RASA_PYTHON), "-m", "bot.rasa_server", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "RASA_JWT_SECRET" in done.stderr, done.stderr[-2000:]


def test_the_action_server_wants_its_token_unless_told_it_is_a_dev_server(monkeypatch):
    from bot.action_server.app import ConfigurationError as ActionsConfigurationError
    from bot.action_server.app import action_token, argument_parser

    with pytest.raises(ActionsConfigurationError, match="ACTION_SERVER_TOKEN is not set"):
        action_token({}, allow_none=False)
    assert action_token({"ACTION_SERVER_TOKEN": ""}, allow_none=True) is None
    assert action_token({"ACTION_SERVER_TOKEN": "t" * 32}, allow_none=False) == "t" * 32
    monkeypatch.delenv("ACTION_SERVER_HOST", raising=False)
    assert argument_parser().parse_args(["--actions", "actions"]).host == "127.0.0.1"
    monkeypatch.setenv("ACTION_SERVER_HOST", "10.0.0.5")
    assert argument_parser().parse_args(["--actions", "actions"]).host == "10.0.0.5"
    assert argument_parser().parse_args(["--host", "10.1.1.1"]).dev_allow_no_token is False


# One settings object per service, built once at start-up: a value that cannot work is a ConfigError
# naming the variable, before anything starts (issue 15).


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DESK_PORT": "abc"}, "DESK_PORT must be a port number, got 'abc'"),
        ({"DESK_PORT": "70000"}, "DESK_PORT must be a port number, got '70000'"),
        ({"DESK_POLL_SECONDS": "soon"}, "DESK_POLL_SECONDS must be a number, got 'soon'"),
        ({"DESK_TRUSTED_PROXIES": "10.0.0.0/8, lb"}, "DESK_TRUSTED_PROXIES: 'lb' is not an address"),
        ({"DATABASE_URL": "mysql://loom:hunter2@db/loom"}, "DATABASE_URL must start with sqlite://"),
        ({"REDIS_URL": "cache:6379"}, "REDIS_URL must start with redis:// or rediss://, got no scheme"),
        ({"IMAGE_ENCODER": "resnet"}, "IMAGE_ENCODER must be one of efficientnet, clip, got 'resnet'"),
    ],
)
def test_the_desk_settings_name_the_variable_that_cannot_work(env, message):
    from bot.desk.config import DeskConfig
    from bot.settings import ConfigError

    with pytest.raises(ConfigError, match=message) as raised:
        DeskConfig.from_env(env)
    assert "hunter2" not in str(raised.value)  # a URL's password never reaches a log


def test_the_desk_settings_keep_names_and_defaults():
    from bot.desk.config import DeskConfig

    config = DeskConfig.from_env({})
    assert (config.port, config.host, config.rasa_url, config.public_url) == (
        5090,
        "127.0.0.1",
        "http://127.0.0.1:5005",
        "http://127.0.0.1:5090",
    )
    assert config.settings.database_url == "sqlite:///var/loom.db" and config.settings.redis_url is None
    assert config.metrics_token is None and config.rasa_token == "" and config.desk_api_token == ""
    env = {"DESK_PORT": "6001", "METRICS_TOKEN": "m" * 32, "DESK_POLL_SECONDS": "0.2", "VAR_DIR": "/srv"}
    config = DeskConfig.from_env(env)
    assert (config.port, config.public_url, config.poll_seconds) == (6001, "http://127.0.0.1:6001", 0.2)
    assert config.metrics_token == "m" * 32 and config.tracker_database_url == "sqlite:////srv/tracker.db"


def test_the_shared_settings_read_catalogue_and_media_variables():
    from bot.catalog.fetch import media_policy, media_policy_for
    from bot.settings import Settings

    assert Settings.from_env({}).image_encoder == "efficientnet"
    env = {
        "IMAGE_ENCODER": "CLIP",
        "CLIP_MODEL": "clip-ViT-L-14",
        "PHOTO_ALLOWED_HOSTS": " cdn.example , ,img.example",
        "SIM_PUBLIC_URL": "http://127.0.0.1:5080",
    }
    settings = Settings.from_env(env)
    assert (settings.image_encoder, settings.clip_model) == ("clip", "clip-ViT-L-14")
    assert settings.photo_allowed_hosts == ("cdn.example", "img.example")
    policy = media_policy_for(settings)
    assert policy == media_policy(env)
    assert {"cdn.example", "img.example", "127.0.0.1:5080"} <= set(policy.allowed_hosts)


def test_the_action_server_settings(monkeypatch):
    from bot.action_server.settings import ActionServerSettings

    defaults = ActionServerSettings.from_env({})
    assert (defaults.host, defaults.token, defaults.metrics_token) == ("127.0.0.1", None, None)
    assert defaults.settings.database_url == "sqlite:///var/loom.db"
    env = {"ACTION_SERVER_HOST": "10.0.0.5", "ACTION_SERVER_TOKEN": "t" * 32, "METRICS_TOKEN": "m" * 32}
    config = ActionServerSettings.from_env(env)
    assert (config.host, config.token, config.metrics_token) == ("10.0.0.5", "t" * 32, "m" * 32)
    assert ActionServerSettings.from_env({"ACTION_SERVER_TOKEN": ""}).token is None


@pytest.mark.parametrize(
    ("module", "variable", "message"),
    [
        ("bot.desk", "DESK_PORT", "desk: configuration error: DESK_PORT must be a port number, got 'abc'"),
        (
            "bot.monitoring",
            "MONITORING_PORT",
            "monitoring: configuration error: MONITORING_PORT must be a port number, got 'abc'",
        ),
        (
            "bot.action_server",
            "IMAGE_ENCODER",
            "action server: configuration error: IMAGE_ENCODER must be one of efficientnet, clip, got 'abc'",
        ),
    ],
)
def test_a_wrong_setting_stops_a_service_with_one_line_naming_it(module, variable, message, tmp_path):
    env = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path), variable: "abc"}
    done = subprocess.run(
        [sys.executable, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stderr.strip() == message  # the reason, not a traceback
