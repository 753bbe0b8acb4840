"""The deployment files parsed once, a migrated PostgreSQL database, and the ports these tests use.

Nothing here needs Docker, Compose, kubectl or nginx: the files are read as YAML or text and their
structure is checked; the processes are started from this checkout (runtime B) as the images start them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.storage import migrate

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
# Ports 5700-5799 (shifted like the end-to-end tests' when several checkouts share a machine).
PORT_OFFSET = int(os.environ.get("E2E_PORT_OFFSET", "0"))
ENV_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")
SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD")


def port(number: int) -> int:
    """A port of this suite's range, shifted by E2E_PORT_OFFSET."""
    assert 5700 <= number <= 5799
    return number + PORT_OFFSET


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """deploy/docker-compose.yml (YAML anchors and merge keys resolved)."""
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


@pytest.fixture(scope="session")
def kustomization() -> dict[str, Any]:
    """deploy/k8s/kustomization.yaml."""
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


@pytest.fixture(scope="session")
def manifests(kustomization) -> list[dict[str, Any]]:
    """Every object of every file the kustomization lists."""
    found: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        found += [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]
    return found


def is_secret(name: str) -> bool:
    """Whether a variable holds a secret, by its name."""
    return any(word in name for word in SECRET_WORDS)


def rasa_replicas(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The Compose services that run a Rasa server."""
    return {n: s for n, s in compose["services"].items() if "bot.rasa_server" in s.get("command", [])}


def option(command: list[str], name: str) -> str:
    """The value following `name` in a command line."""
    return command[command.index(name) + 1]


def objects(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """The manifests of one kind, by name."""
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def env_file(path: Path) -> dict[str, tuple[str, list[str]]]:
    """NAME -> (value, the comment lines just above it) of an env template (`NAME=value` lines).

    A commented-out `# NAME=value` counts as listed (an optional variable left at its default).
    """
    found: dict[str, tuple[str, list[str]]] = {}
    comments: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        match = ENV_LINE.match(line)
        if match:
            found[match.group(1)] = (match.group(2).strip(), comments)
            comments = []
        elif line.startswith("#"):
            comments = [*comments, line.lstrip("# ")]
        else:
            comments = []
    return found


@pytest.fixture(scope="module")
def migrated_database(postgres_url) -> Iterator[str]:
    """The session's PostgreSQL database at the newest schema; emptied again afterwards."""
    migrate.downgrade(postgres_url, "base")
    migrate.upgrade(postgres_url)
    try:
        yield postgres_url
    finally:
        migrate.downgrade(postgres_url, "base")
