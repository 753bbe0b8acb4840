"""No open internal surface (issue #21): what an attacker who reaches the internal ports can do (runtime B).

A real stack (simulator, action server, Rasa server with our channels and its HTTP API, desk) on its own
ports, started as `make run` starts it (bot.devstack), plus a bare action server started as a
deployment would start it (`python -m bot.action_server --actions actions`, no `--host`). Everything is
plain HTTP from outside the processes: the REST channel, Rasa's HTTP API, the action server and every
`/metrics` refuse callers without their secret, and no secret shows on any process's command line.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bot.devstack import ROOT, Service, Stack

from ..e2e.conftest import stack_ports, start

SECRETS = ("RASA_JWT_SECRET", "DESK_API_TOKEN", "REST_CHANNEL_TOKEN", "ACTION_SERVER_TOKEN", "METRICS_TOKEN")
ACTION = "action_store_info"  # reads the stores table, nothing else
# What our services take from a message's metadata (bot/monitoring, actions/escalation, the desk).
SPOOFED_METADATA = {
    "is_external": True,
    "sender_screen_name": "famous_vip",
    "sender_name": "Famous VIP",
    "image_urls": ["http://attacker.example/photo.png"],
    "author": "human_agent",
}


@pytest.fixture(scope="module")
def surface(tmp_path_factory) -> Iterator[Stack]:
    """The embedded default (SQLite, no Redis) with the simulator, on its own ports."""
    var_dir = tmp_path_factory.mktemp("var")
    stack = start({"VAR_DIR": str(var_dir), "DATABASE_URL": None, "REDIS_URL": None}, stack_ports(5405))
    yield stack
    stack.stop()


def new_sender() -> str:
    return f"surface-{uuid.uuid4().hex[:12]}"


def rest(stack: Stack, body: dict, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{stack.rasa_url}/webhooks/rest/webhook", json=body, headers=headers, timeout=60)


def user_events(stack: Stack, sender: str) -> list[dict]:
    return [event for event in stack.tracker(sender)["events"] if event["event"] == "user"]


def wrong_bearers(stack: Stack) -> dict[str, dict[str, str]]:
    """Headers that must not open an endpoint: none, a wrong token, another scheme, another service's."""
    return {
        "none": {},
        "wrong": {"Authorization": "Bearer wrong-token"},
        "basic": {"Authorization": f"Basic {stack.env['REST_CHANNEL_TOKEN']}"},
        "desk token": {"Authorization": f"Bearer {stack.env['DESK_API_TOKEN']}"},
    }


# REST channel


def test_rest_without_the_token_is_refused_and_nothing_reaches_a_conversation(surface):
    for name, headers in wrong_bearers(surface).items():
        sender = new_sender()
        answer = rest(surface, {"sender": sender, "message": "cancel my order 100871"}, headers)
        assert answer.status_code == 401, (name, answer.text)
        assert "text" not in answer.text, name
        assert user_events(surface, sender) == [], name


def test_rest_with_the_token_ignores_a_spoofed_channel_and_metadata(surface):
    sender = new_sender()
    body = {"sender": sender, "message": "hi", "input_channel": "messenger", "metadata": SPOOFED_METADATA}
    answer = rest(surface, body, surface.bearer("REST_CHANNEL_TOKEN"))
    assert answer.status_code == 200 and answer.json(), answer.text
    [event] = user_events(surface, sender)
    assert event["text"] == "hi"
    assert event["input_channel"] == "rest"
    assert not set(event.get("metadata") or {}) & set(SPOOFED_METADATA), event["metadata"]


# Rasa's HTTP API


def api_token(secret: str, seconds: int = 60, role: str = "admin", username: str = "x") -> str:
    payload = {"user": {"username": username, "role": role}, "exp": int(time.time()) + seconds}
    return jwt.encode(payload, secret, algorithm="HS256")


def test_rasa_api_wants_a_fresh_jwt_signed_with_the_secret_and_no_query_token(surface):
    sender = new_sender()
    surface.say(sender, "hi")
    url = surface.rasa_api(f"/conversations/{sender}/tracker")
    secret = surface.env["RASA_JWT_SECRET"]
    refused = {
        "nothing": {},
        "the secret as a bearer": {"Authorization": f"Bearer {secret}"},
        "another key": {"Authorization": f"Bearer {api_token('not-the-secret-' * 3)}"},
        "expired": {"Authorization": f"Bearer {api_token(secret, seconds=-600)}"},  # sanic-jwt: 180 s leeway
        "unsigned": {"Authorization": f"Bearer {jwt.encode({'user': {'role': 'admin'}}, None, 'none')}"},
        "no expiry": {"Authorization": f"Bearer {jwt.encode({'user': {'role': 'admin'}}, secret, 'HS256')}"},
    }
    for name, headers in refused.items():
        assert requests.get(url, headers=headers, timeout=30).status_code == 401, name
    assert requests.get(url, params={"token": secret}, timeout=30).status_code == 401  # no ?token=
    someone_else = {"Authorization": f"Bearer {api_token(secret, role='user', username='not-' + sender)}"}
    assert requests.get(url, headers=someone_else, timeout=30).status_code == 403
    answer = requests.get(url, headers=surface.rasa_api_headers(), timeout=30)
    assert answer.status_code == 200 and answer.json()["sender_id"] == sender


# Action server


def action_call(action: str) -> dict:
    """What Rasa posts to /webhook, with a tracker made up by the caller."""
    tracker = {
        "sender_id": "attacker",
        "slots": {},
        "latest_message": {"text": "/store_hours", "intent": {"name": "store_hours"}},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": None,
    }
    return {
        "next_action": action,
        "sender_id": "attacker",
        "tracker": tracker,
        "domain": {},
        "version": "3.6.21",
    }


def actions_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.ports.actions}"


def action_runs(stack: Stack, action: str) -> float:
    """Runs of `action` so far, whatever their outcome, from the action server's own /metrics."""
    answer = requests.get(f"{actions_url(stack)}/metrics", headers=stack.bearer("METRICS_TOKEN"), timeout=30)
    assert answer.status_code == 200, answer.text
    return sum(
        sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.name == "loom_action_runs_total" and sample.labels["action"] == action
    )


def test_the_action_server_runs_nothing_without_the_token(surface):
    before = action_runs(surface, ACTION)
    for name, headers in wrong_bearers(surface).items():
        for method, path, body in (("POST", "/webhook", action_call(ACTION)), ("GET", "/actions", None)):
            answer = requests.request(
                method, f"{actions_url(surface)}{path}", json=body, headers=headers, timeout=30
            )
            assert answer.status_code == 401, (name, path, answer.text)
            assert "responses" not in answer.text and ACTION not in answer.text
    assert action_runs(surface, ACTION) == before
    # The same call with Rasa's header runs the action (so the count above could have moved).
    rasa = surface.bearer("ACTION_SERVER_TOKEN")
    answer = requests.post(
        f"{actions_url(surface)}/webhook", json=action_call(ACTION), headers=rasa, timeout=30
    )
    assert answer.status_code == 200 and "responses" in answer.json(), answer.text
    assert action_runs(surface, ACTION) == before + 1
    assert requests.get(f"{actions_url(surface)}/health", timeout=30).status_code == 200


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on `port` (IPv4 and IPv6), from /proc/net."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, port_hex = local.partition(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                if len(address) == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    words = b"".join(bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, 32, 8))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


def test_every_service_of_the_stack_listens_on_loopback_only(surface):
    for name, port in vars(surface.ports).items():
        assert listening_addresses(port) == {"127.0.0.1"}, name


@pytest.fixture(scope="module")
def bare_action_server(tmp_path_factory) -> Iterator[str]:
    """A deployment's action server: only ACTION_SERVER_TOKEN set; its base URL on 127.0.0.1.

    `python -m bot.action_server --actions actions`: no --host, and no METRICS_TOKEN or
    ACTION_SERVER_HOST inherited.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    service = Service(
        name="actions",
        command=[sys.executable, "-m", "bot.action_server", "--actions", "actions", "--port", str(port)],
        ready_url=f"http://127.0.0.1:{port}/health",
        log_path=tmp_path_factory.mktemp("bare") / "actions.log",
        env={
            "ACTION_SERVER_TOKEN": "bare-secret-0123456789",
            "METRICS_TOKEN": None,
            "ACTION_SERVER_HOST": None,
        },
    )
    service.start()
    deadline = time.monotonic() + 180
    try:
        while not service.ready():
            assert service.alive(), service.tail()
            assert time.monotonic() < deadline, service.tail()
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        service.stop()


def test_the_action_server_binds_loopback_by_default(bare_action_server):
    port = int(bare_action_server.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"127.0.0.1"}


def test_without_metrics_token_the_action_servers_metrics_are_closed(bare_action_server):
    for headers in (
        {},
        {"Authorization": "Bearer anything"},
        {"Authorization": "Bearer bare-secret-0123456789"},
    ):
        answer = requests.get(f"{bare_action_server}/metrics", headers=headers, timeout=30)
        assert answer.status_code == 403 and "METRICS_TOKEN" in answer.text
        assert "loom_action" not in answer.text
    answer = requests.post(f"{bare_action_server}/webhook", json=action_call(ACTION), timeout=30)
    assert answer.status_code == 401


def test_the_action_server_does_not_start_without_its_token():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "ACTION_SERVER_TOKEN"}
    command = [sys.executable, "-m", "bot.action_server", "--actions", "actions", "--port", str(port)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "ACTION_SERVER_TOKEN is not set" in done.stderr, done.stderr[-2000:]


# /metrics


def test_metrics_refuse_scrapers_without_the_token_on_every_service(surface):
    for service, base in (
        ("rasa", surface.rasa_url),
        ("actions", actions_url(surface)),
        ("desk", surface.desk_url),
    ):
        for name, headers in wrong_bearers(surface).items():
            answer = requests.get(f"{base}/metrics", headers=headers, timeout=30)
            assert answer.status_code == 401, (service, name)
            assert "loom_" not in answer.text, (service, name)
        answer = requests.get(f"{base}/metrics", headers=surface.bearer("METRICS_TOKEN"), timeout=30)
        assert answer.status_code == 200 and "process_resident_memory_bytes" in answer.text, service


# Secrets on command lines


def processes_of(stack: Stack) -> dict[str, list[str]]:
    """Service name → the command lines of every process in its process group (workers included)."""
    groups = {service.process.pid: service.name for service in stack.services if service.process}
    found: dict[str, list[str]] = {name: [] for name in groups.values()}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            group = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2])
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
        if group in groups:
            found[groups[group]].append(cmdline)
    return found


def test_no_secret_on_any_command_line(surface):
    secrets = {name: str(surface.env[name]) for name in SECRETS}
    assert all(len(value) >= 32 for value in secrets.values()), "devstack generates long random secrets"
    processes = processes_of(surface)
    assert set(processes) == {"simulator", "actions", "rasa", "desk"}
    for service, cmdlines in processes.items():
        assert cmdlines, f"no process found for {service}"
        for cmdline in cmdlines:
            for name, value in secrets.items():
                assert value not in cmdline, f"{name} on the command line of {service}: {cmdline[:200]}"
            assert "token=" not in cmdline and "secret" not in cmdline.lower(), cmdline[:200]
