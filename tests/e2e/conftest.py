"""The running stacks end-to-end tests talk to, started once per session (runtime B).

Two deployments: the embedded default (SQLite files, in-process locks) and the production shape
(PostgreSQL for data and trackers, Redis for locks and connector state). Both include the Meta simulator.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.devtools.devstack import ROOT, Ports, Stack
from bot.devtools.launcher import prepare_database
from bot.settings import Settings
from bot.storage import migrate

# Several checkouts (or sessions) on one machine run their suites side by side with different bases.
PORT_OFFSET = int(os.environ.get("E2E_PORT_OFFSET", "0"))


def stack_ports(base: int) -> Ports:
    """The stack's four ports from a base such as 5105 (Rasa), shifted by E2E_PORT_OFFSET."""
    base += PORT_OFFSET
    return Ports(base, base + 50, base + 75, base + 85)


def start(env: dict[str, str | None], ports: Ports) -> Stack:
    """Prepare the database and start a stack whose Meta channels talk to its simulator."""
    prepare_database(Settings.from_env({k: v for k, v in env.items() if v is not None}))
    stack = Stack(ports, env=env, simulator=True)  # the simulator's settings, whatever the shell has
    stack.start()
    return stack


def content_copy(target: Path) -> Path:
    """What the desk's review pages write and read, copied: tests never change the repository's data."""
    shutil.copytree(ROOT / "data", target / "data")
    shutil.copytree(ROOT / "tests" / "nlu", target / "tests" / "nlu")
    for name in ("domain.yml", "config.yml"):
        shutil.copy(ROOT / name, target / name)
    (target / "models").mkdir()
    (target / "models" / "encoder").symlink_to(ROOT / "models" / "encoder")  # grouping by meaning
    return target


@pytest.fixture(scope="session")
def default_stack(tmp_path_factory) -> Iterator[Stack]:
    """`make run`'s configuration: no DATABASE_URL, no REDIS_URL; state in a private VAR_DIR."""
    var_dir = tmp_path_factory.mktemp("var")
    env = {"VAR_DIR": str(var_dir), "DATABASE_URL": None, "REDIS_URL": None}
    env["CONTENT_ROOT"] = str(content_copy(tmp_path_factory.mktemp("content")))  # the review pages write here
    stack = start(env, stack_ports(5105))
    yield stack
    stack.stop()


@pytest.fixture(params=["default", "production"])
def stack(request) -> Stack:
    """Each test using this runs against both deployments."""
    return request.getfixturevalue(f"{request.param}_stack")


@pytest.fixture(scope="session")
def production_stack(postgres_url, redis_url, tmp_path_factory) -> Iterator[Stack]:
    """PostgreSQL for data and conversations, Redis for locks."""
    migrate.downgrade(postgres_url, "base")
    env = {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "VAR_DIR": str(tmp_path_factory.mktemp("var")),
    }
    stack = start(env, stack_ports(5205))
    yield stack
    stack.stop()


def sim(stack: Stack, method: str, path: str, **kwargs: Any) -> Any:
    """Call the stack's simulator (its /_sim control API); the JSON answer, which must be a 200."""
    response = requests.request(method, f"{stack.simulator_url}{path}", timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()
