"""deploy/docker-compose.yml, deploy/.env.example and deploy/redis.conf, read as files (no Docker here).

What matters for running on real machines: every long-running service is health-checked, restarted and
given time to drain; the Rasa replicas share PostgreSQL and Redis; only nginx is published; secrets come
from the env file and reach every service that needs them, never a command line.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.devtools.devstack import SHARED_SECRETS
from bot.platform_env import OPTIONAL_PLATFORM_VARIABLES, required_platform_variables

from .conftest import DEPLOY, env_file, is_secret, option, rasa_replicas

INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}")
BARE_INTERPOLATION = re.compile(r"(?<!\$)\$([A-Z][A-Z0-9_]*)")
URL_SECRETS = ("DATABASE_URL", "REDIS_URL")
MIN_GRACE = 25.0


def seconds(duration: str) -> float:
    """A Compose duration (`40s`, `1m30s`, `1h`) in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(duration))
    assert parts and "".join(n + u for n, u in parts) == str(duration), duration
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 0.000001}
    return sum(float(n) * scale[u] for n, u in parts)


def one_shot(compose: dict[str, Any]) -> set[str]:
    """Jobs: never restarted, and awaited by their dependents until they completed."""
    jobs = {name for name, s in compose["services"].items() if s.get("restart") == "no"}
    for service in compose["services"].values():
        for dependency, condition in (service.get("depends_on") or {}).items():
            if dependency in jobs:
                assert condition == {"condition": "service_completed_successfully"}, dependency
    return jobs


def long_running(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if n not in one_shot(compose)}


def scheme_and_host(url: str) -> tuple[str, str]:
    """Scheme and host of a URL whose password is a `${...}` (which urlsplit cannot read)."""
    scheme, rest = url.split("://", 1)
    return scheme, re.split(r"[:/]", rest.rsplit("@", 1)[-1])[0]


def default_of(value: str) -> str:
    """The default of a `${NAME:-default}` value."""
    match = INTERPOLATION.fullmatch(value)
    assert match and match.group(2) == ":-", value
    return match.group(3)


def strings(node: Any) -> list[str]:
    """Every string in a YAML tree."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return []


def test_every_long_running_service_is_health_checked_restarted_and_given_time_to_stop(compose):
    services = long_running(compose)
    assert {"rasa-1", "rasa-2", "actions", "desk", "monitoring", "postgres", "redis", "nginx"} <= set(
        services
    )
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service.get("restart") in ("always", "unless-stopped", "on-failure"), name
        assert seconds(service.get("stop_grace_period", "10s")) >= MIN_GRACE, name


def test_the_migration_job_runs_before_the_services_that_need_the_schema(compose):
    assert one_shot(compose) == {"migrate"}
    assert "bot db upgrade" in " ".join(compose["services"]["migrate"]["command"])
    for name in ("actions", "desk", "monitoring", *rasa_replicas(compose)):
        assert compose["services"][name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }, name


def test_services_wait_for_the_health_of_what_they_need(compose):
    services = compose["services"]
    for name in (*rasa_replicas(compose), "desk", "monitoring"):
        for needed in ("postgres", "redis"):
            assert services[name]["depends_on"][needed] == {"condition": "service_healthy"}, name
    assert services["actions"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for replica in rasa_replicas(compose):
        assert services["nginx"]["depends_on"][replica] == {"condition": "service_healthy"}


def test_at_least_two_rasa_replicas_share_postgresql_redis_and_one_configuration(compose):
    replicas = rasa_replicas(compose)
    assert len(replicas) >= 2
    first = next(iter(replicas.values()))
    for name, replica in replicas.items():
        env = replica["environment"]
        assert scheme_and_host(env["DATABASE_URL"]) == ("postgresql", "postgres"), name
        assert scheme_and_host(env["REDIS_URL"]) == ("redis", "redis"), name
        assert replica["environment"] == first["environment"], f"{name} is configured differently"
        assert replica["command"] == first["command"], name
        command = replica["command"]
        assert "--enable-api" in command
        assert option(command, "--model") == "models/current.tar.gz"
        assert option(command, "--endpoints") == "endpoints.yml"
        assert option(command, "--credentials") == "credentials.yml"
        assert "rasa" in replica["networks"]["default"]["aliases"], name  # the desk's RASA_URL


def test_a_rasa_replica_may_drain_its_inbox_before_it_is_killed(compose):
    for name, replica in rasa_replicas(compose).items():
        drain = float(default_of(replica["environment"]["INBOX_DRAIN_SECONDS"]))
        assert drain == 20  # connectors.inbox.DEFAULT_DRAIN_SECONDS, what the grace period is sized for
        assert seconds(replica["stop_grace_period"]) >= drain + 10, name
        assert replica["healthcheck"]["test"][-1].endswith(":5005/readyz"), name


def test_ports_match_between_commands_health_checks_and_neighbours(compose):
    services = compose["services"]
    for name, replica in rasa_replicas(compose).items():
        port = option(replica["command"], "--port")
        assert option(replica["command"], "--interface") == "0.0.0.0"
        assert replica["healthcheck"]["test"][-1] == f"http://127.0.0.1:{port}/readyz", name
    actions = services["actions"]
    actions_port = option(actions["command"], "--port")
    assert actions["healthcheck"]["test"][-1] == f"http://127.0.0.1:{actions_port}/health"
    assert actions["environment"]["ACTION_SERVER_HOST"] == "0.0.0.0"
    for replica in rasa_replicas(compose).values():
        endpoint = urlsplit(replica["environment"]["ACTION_ENDPOINT_URL"])
        assert (endpoint.hostname, str(endpoint.port), endpoint.path) == ("actions", actions_port, "/webhook")
    desk = services["desk"]
    assert desk["healthcheck"]["test"][-1] == f"http://127.0.0.1:{desk['environment']['DESK_PORT']}/readyz"
    assert desk["environment"]["DESK_HOST"] == "0.0.0.0"
    monitoring = services["monitoring"]
    monitoring_port = monitoring["environment"]["MONITORING_PORT"]
    assert monitoring["healthcheck"]["test"][-1] == f"http://127.0.0.1:{monitoring_port}/readyz"
    assert monitoring["environment"]["MONITORING_HOST"] == "0.0.0.0"
    assert monitoring["command"] == ["python", "-m", "bot.monitoring"]
    for name in ("desk", "monitoring"):
        rasa_url = urlsplit(services[name]["environment"]["RASA_URL"])
        assert rasa_url.port == 5005 and all(
            rasa_url.hostname in r["networks"]["default"]["aliases"] for r in rasa_replicas(compose).values()
        ), name


def test_only_nginx_publishes_ports(compose):
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == {"nginx"}
    assert sorted(compose["services"]["nginx"]["ports"]) == ["443:443", "80:80"]
    assert not any(s.get("network_mode") == "host" for s in compose["services"].values())


def test_redis_keeps_the_inbox_on_disk_and_never_evicts_it(compose):
    redis = compose["services"]["redis"]
    config = {}
    for line in (DEPLOY / "redis.conf").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split(None, 1)
            config[key] = value.strip()
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] in ("always", "everysec")
    assert config["maxmemory-policy"] == "noeviction"
    assert config["dir"] == "/data"
    assert "./redis.conf:/usr/local/etc/redis/redis.conf:ro" in redis["volumes"]
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    assert "redis-server /usr/local/etc/redis/redis.conf -" in " ".join(redis["command"])


def test_no_secret_is_written_inline(compose):
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if is_secret(key):
                match = INTERPOLATION.fullmatch(value)
                assert match, f"{name}: {key} must come from deploy/.env, not be written here"
                assert match.group(2) != ":-" or match.group(3) == "", f"{name}: {key} has a default"
            if key in URL_SECRETS:  # scheme://user:${PASSWORD:?...}@host/...: the password from .env
                password = value.split("://", 1)[1].rsplit("@", 1)[0].split(":", 1)[1]
                match = INTERPOLATION.fullmatch(password)
                assert match and match.group(2) == ":?", f"{name}: the password of {key} must be required"


def test_no_secret_reaches_a_command_line(compose):
    for name, service in compose["services"].items():
        words = strings([service.get("command"), service.get("entrypoint"), service.get("healthcheck")])
        for word in words:
            used = INTERPOLATION.findall(word) + [(n, "", "") for n in BARE_INTERPOLATION.findall(word)]
            secrets = [n for n, *_ in used if is_secret(n)]
            assert not secrets, f"{name}: {secrets} interpolated into a command line"
            assert not re.search(r"--(requirepass|jwt-secret|auth-token|password)\b", word), name


def test_every_variable_the_services_share_is_wired_where_it_is_needed(compose):
    services = compose["services"]
    rasa = next(iter(rasa_replicas(compose).values()))["environment"]
    needed = {
        "RASA_JWT_SECRET",
        *SHARED_SECRETS,
        *required_platform_variables(),
        *OPTIONAL_PLATFORM_VARIABLES,
    }
    assert needed - set(rasa) == set(), "variables the Rasa server reads but is not given"
    consumers = {
        "ACTION_SERVER_TOKEN": ["actions"],
        "RASA_JWT_SECRET": ["desk", "monitoring"],
        "DESK_API_TOKEN": ["desk"],
        "METRICS_TOKEN": ["actions", "desk", "monitoring"],
    }
    for variable, names in consumers.items():
        for name in names:
            assert services[name]["environment"][variable] == rasa[variable], f"{variable} in {name}"
    for name in ("actions", "desk", "monitoring", "migrate"):
        assert services[name]["environment"]["DATABASE_URL"] == rasa["DATABASE_URL"], name
    for name in ("desk", "monitoring"):  # monitoring's lease is in Redis: one worker, any replica count
        assert services[name]["environment"]["REDIS_URL"] == rasa["REDIS_URL"], name
    for name in ("MONITORING_WEBHOOK_URL", "MONITORING_WEBHOOK_SECRET", "DESK_PUBLIC_URL"):
        assert services["monitoring"]["environment"][name] == services["desk"]["environment"][name], name
    for name, service in services.items():  # demo accounts are for `make run` only
        assert "DESK_DEMO_AGENT" not in (service.get("environment") or {}), name


def test_the_env_template_lists_every_variable_with_a_comment_and_no_secret_value(compose):
    listed = env_file(DEPLOY / ".env.example")
    text = (DEPLOY / "docker-compose.yml").read_text()
    text += (DEPLOY / "nginx" / "compose.conf.template").read_text()
    used = {name for name, *_ in INTERPOLATION.findall(text)}
    assert used - set(listed) == set(), "variables deploy/docker-compose.yml reads but .env.example omits"
    assert set(listed) - used == set(), "variables in .env.example that nothing reads"
    for name, (value, comments) in listed.items():
        assert comments, f"{name} has no comment in .env.example"
        if is_secret(name):
            assert value == "", f"{name} has a value in .env.example: secrets never go into the repository"


@pytest.mark.parametrize("dockerfile", ["Dockerfile.rasa", "Dockerfile.service"])
def test_images_run_as_a_user_and_install_the_locked_versions(dockerfile):
    text = (DEPLOY / dockerfile).read_text()
    runtime = {
        "Dockerfile.rasa": ("python:3.10-slim", "rasa"),
        "Dockerfile.service": ("python:3.11-slim", "service"),
    }
    base, extra = runtime[dockerfile]
    assert text.count(f"FROM {base}") == 2  # build stage and the image itself
    assert f"pip install -e '.[{extra}]' -c requirements/{extra}.lock" in text
    final_stage = text.rsplit("FROM ", 1)[1]
    assert re.search(r"^USER (?!root|0\b)\S+", final_stage, re.MULTILINE), "the image runs as root"
    ignored = (DEPLOY / f"{dockerfile}.dockerignore").read_text().splitlines()
    assert next(line for line in ignored if line and not line.startswith("#")) == "*"  # an allowlist
    if extra == "rasa":
        assert "models/current.tar.gz" in final_stage


def test_the_build_context_leaves_secrets_and_local_state_out():
    for name in ("Dockerfile.rasa.dockerignore", "Dockerfile.service.dockerignore"):
        allowed = [line[1:] for line in (DEPLOY / name).read_text().splitlines() if line.startswith("!")]
        assert not [a for a in allowed if a.startswith((".env", "var", ".venv", "tests", "deploy"))], name
