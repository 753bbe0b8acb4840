"""`python -m bot.action_server`: rasa-sdk's server, its /health and /actions, plus `GET /metrics`.

The real command in its own process (as `make run` starts it), with a small actions package of the
test's own (one that works, one that breaks, one that rejects), `ACTION_SERVER_TOKEN` (what Rasa sends)
and `METRICS_TOKEN` set. What it refuses without them is in tests/security/test_internal_surface.py.
"""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bot.bearer import bearer_matches
from bot.devtools.devstack import Service
from bot.metrics import NOT_CONFIGURED, metrics_token_from_env, refusal

from ..ports import free_port

TOKEN = "scrape-secret"
ACTION_TOKEN = "action-secret-0123456789"
RASA = {"Authorization": f"Bearer {ACTION_TOKEN}"}  # what endpoints.yml makes Rasa send
ACTIONS = """
from rasa_sdk import Action
from rasa_sdk.interfaces import ActionExecutionRejection


class Works(Action):
    def name(self):
        return "action_works"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="done")
        return []


class Breaks(Action):
    def name(self):
        return "action_breaks"

    async def run(self, dispatcher, tracker, domain):
        raise RuntimeError("broken on purpose")


class Rejects(Action):
    def name(self):
        return "action_rejects"

    async def run(self, dispatcher, tracker, domain):
        raise ActionExecutionRejection("action_rejects", "not this time")
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The action server on a free port; its base URL."""
    package = tmp_path_factory.mktemp("actions")
    (package / "metrics_test_actions.py").write_text(textwrap.dedent(ACTIONS))
    port = free_port()
    service = Service(
        name="actions",
        command=[
            sys.executable,
            "-m",
            "bot.action_server",
            "--actions",
            "metrics_test_actions",
            f"--port={port}",
        ],
        ready_url=f"http://127.0.0.1:{port}/health",
        log_path=package / "server.log",
        env={"PYTHONPATH": str(package), "METRICS_TOKEN": TOKEN, "ACTION_SERVER_TOKEN": ACTION_TOKEN},
    )
    service.start()
    deadline = time.monotonic() + 180  # the machine may be busy; rasa-sdk imports take a while
    try:
        while not service.ready():
            assert service.alive(), service.tail()
            assert time.monotonic() < deadline, service.tail()
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        service.stop()


def call(action: str) -> dict:
    """What Rasa posts to /webhook to run an action."""
    tracker = {
        "sender_id": "c1",
        "slots": {},
        "latest_message": {},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": None,
    }
    return {"next_action": action, "sender_id": "c1", "tracker": tracker, "domain": {}, "version": "3.6.21"}


def scrape(base: str) -> dict:
    answer = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    families = list(text_string_to_metric_families(answer.text))
    found: dict = {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}
    found["families"] = {f.name for f in families}
    return found


def runs(found: dict, action: str, outcome: str) -> float:
    return found.get(
        ("loom_action_runs_total", frozenset({"action": action, "outcome": outcome}.items())), 0.0
    )


def timed(found: dict, action: str) -> float:
    return found.get(("loom_action_seconds_count", frozenset({"action": action}.items())), 0.0)


def test_health_and_actions_as_rasa_sdk_serves_them(server):
    assert requests.get(f"{server}/health", timeout=30).json() == {"status": "ok"}
    names = {a["name"] for a in requests.get(f"{server}/actions", headers=RASA, timeout=30).json()}
    assert names >= {"action_works", "action_breaks", "action_rejects"}


def test_metrics_need_the_token_when_it_is_set(server):
    assert requests.get(f"{server}/metrics", timeout=30).status_code == 401
    wrong = requests.get(f"{server}/metrics", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 401
    families = scrape(server)["families"]
    assert {"loom_action_runs", "loom_action_seconds", "process_resident_memory_bytes"} <= families


def test_action_runs_are_counted_by_outcome_and_timed(server):
    before = scrape(server)
    answers = {
        name: requests.post(f"{server}/webhook", json=call(name), headers=RASA, timeout=30).status_code
        for name in ("action_works", "action_breaks", "action_rejects", "action_nobody_wrote")
    }
    assert answers == {
        "action_works": 200,
        "action_breaks": 500,
        "action_rejects": 400,
        "action_nobody_wrote": 404,
    }
    after = scrape(server)
    for action, outcome in (
        ("action_works", "ok"),
        ("action_breaks", "error"),
        ("action_rejects", "rejected"),
        ("unknown", "not_found"),
    ):
        assert runs(after, action, outcome) == runs(before, action, outcome) + 1, (action, outcome)
        assert timed(after, action) == timed(before, action) + 1, action


def test_the_token_rule():
    assert metrics_token_from_env({}) is None and metrics_token_from_env({"METRICS_TOKEN": ""}) is None
    assert not bearer_matches(None, None) and not bearer_matches("Bearer ", None)  # no token: closed
    assert refusal("Bearer x", None) == (403, NOT_CONFIGURED) and refusal(None, "t")[0] == 401
    token = metrics_token_from_env({"METRICS_TOKEN": "t0ken"})
    assert bearer_matches("Bearer t0ken", token) and bearer_matches("bearer  t0ken ", token)
    assert refusal("Bearer t0ken", token) is None
    assert not bearer_matches(None, token) and not bearer_matches("Bearer t0ke", token)
    assert not bearer_matches("Basic t0ken", token)


def test_the_stack_runs_this_server():
    from bot.devtools.devstack import Stack

    [actions] = [s for s in Stack().services if s.name == "actions"]
    assert actions.command[1:3] == ["-m", "bot.action_server"]
    assert Path(actions.ready_url).name == "health"
