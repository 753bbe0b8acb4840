"""SIGTERM stops the desk and the action server cleanly and promptly (runtime B, real processes).

Compose and Kubernetes stop a container with SIGTERM to its main process and SIGKILL after the grace
period (30 s in deploy/ for these two). Each process is started as the images start it, gets SIGTERM
while a request is in flight (and, for the desk, while an agent's live-update stream is open), and must
answer that request, end the stream, and exit with status 0 well inside the grace period.
"""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.devtools.devstack import Service

from .conftest import port

PASSWORD = "a long desk password 42"
ACTION_TOKEN = "deploy-test-action-token-0123456789"
STOP_BOUND = 15.0  # seconds from SIGTERM to exit: half the grace period deploy/ gives these services
START_BOUND = 180.0  # imports (torch, TensorFlow-free but heavy) on a busy 2-core machine


def launch(name: str, command: list[str], ready_url: str, env: dict[str, str | None], log: Path) -> Service:
    """Start a process in its own session and wait until `ready_url` answers 200."""
    service = Service(name=name, command=command, ready_url=ready_url, log_path=log, env=env)
    service.start()
    deadline = time.monotonic() + START_BOUND
    while not service.ready():
        assert service.alive(), service.tail()
        assert time.monotonic() < deadline, f"{name} not ready:\n{service.tail()}"
        time.sleep(0.05)
    return service


def terminate(service: Service) -> float:
    """SIGTERM to the main process only (what `docker stop` and the kubelet do); seconds until it exits."""
    assert service.process is not None
    signalled = time.monotonic()
    service.process.send_signal(signal.SIGTERM)
    return exit_after(service, signalled)


def exit_after(service: Service, signalled: float) -> float:
    """Wait (at most STOP_BOUND from `signalled`) for the process to exit; seconds since `signalled`."""
    assert service.process is not None
    try:
        service.process.wait(timeout=max(0.0, signalled + STOP_BOUND - time.monotonic()))
    except subprocess.TimeoutExpired:
        pytest.fail(f"{service.name} still running {STOP_BOUND:.0f} s after SIGTERM:\n{service.tail()}")
    return time.monotonic() - signalled


@pytest.fixture
def stopper() -> Iterator[list[Service]]:
    """Services a test started; whatever is still running at the end is stopped (group SIGKILL)."""
    started: list[Service] = []
    yield started
    for service in started:
        service.stop()


# --- the desk ---------------------------------------------------------------------------------


@pytest.fixture
def supervisor(migrated_database) -> str:
    """A desk account in the test database, made with the `bot` command as an operator would."""
    name = f"sup{int(time.time() * 1000) % 10**8}"
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "agents", "add", name, "--role", "supervisor", "--password-stdin"],
        input=PASSWORD.encode(),
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": migrated_database},
        check=True,
        capture_output=True,
    )
    return name


def desk_env(database_url: str, redis_url: str, tmp_path: Path) -> dict[str, str | None]:
    """The production shape: PostgreSQL and Redis; Rasa is not reachable (port 9 discards)."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "VAR_DIR": str(tmp_path),
        "RASA_URL": "http://127.0.0.1:9",
        "DESK_PORT": str(port(5790)),
        "DESK_DEMO_AGENT": None,
    }


def signed_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=30)
    token = page.text.split('name="login_csrf" value="', 1)[1].split('"', 1)[0]
    answer = session.post(
        f"{base}/login",
        data={"username": username, "password": PASSWORD, "login_csrf": token},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 303, answer.text
    return session


class StreamReader(threading.Thread):
    """Reads the desk's event stream until it ends; records how (cleanly or not) and when."""

    def __init__(self, session: requests.Session, url: str) -> None:
        super().__init__(daemon=True)
        self.response = session.get(url, stream=True, timeout=120)
        self.error: BaseException | None = None
        self.ended_at: float | None = None

    def run(self) -> None:
        try:
            for _ in self.response.iter_content(64):
                pass
        except BaseException as err:  # a reset or a truncated chunked body: not a clean end
            self.error = err
        self.ended_at = time.monotonic()


def post_raw(listen: int, path: str, body: bytes, headers: dict[str, str]) -> socket.socket:
    """Send a whole POST on a connection of its own; the answer is read later with `answer_of`."""
    connection = socket.create_connection(("127.0.0.1", listen), timeout=30)
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{listen}", f"Content-Length: {len(body)}"]
    lines += ["Connection: close", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    connection.sendall("\r\n".join(lines).encode() + body)
    return connection


def answered(connection: socket.socket) -> bool:
    """Whether the server has started answering (or closed) yet, without waiting."""
    return bool(select.select([connection], [], [], 0)[0])


def answer_of(connection: socket.socket) -> bytes:
    """The whole answer (the server closes the connection after it: `Connection: close`)."""
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    connection.close()
    return answer


def test_the_desk_finishes_a_sign_in_ends_live_streams_and_exits_0_on_sigterm(
    migrated_database, redis_url, supervisor, stopper, tmp_path
):
    base = f"http://127.0.0.1:{port(5790)}"
    desk = launch(
        "desk",
        [sys.executable, "-m", "bot.desk", "--port", str(port(5790))],
        f"{base}/health",
        desk_env(migrated_database, redis_url, tmp_path),
        tmp_path / "desk.log",
    )
    stopper.append(desk)
    agent = signed_in(base, supervisor)
    stream = StreamReader(agent, f"{base}/stream")
    assert stream.response.status_code == 200
    stream.start()

    browser = requests.Session()  # a second agent, half-way through signing in
    page = browser.get(f"{base}/login", timeout=30)
    token = page.text.split('name="login_csrf" value="', 1)[1].split('"', 1)[0]
    body = urllib.parse.urlencode({"username": supervisor, "password": PASSWORD, "login_csrf": token})
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"loom_login_csrf={browser.cookies['loom_login_csrf']}",
    }
    # Signing in hashes the password at OWASP's scrypt cost (about 0.4 s, off the event loop): SIGTERM
    # arrives while that request is being handled. (aiohttp reads nothing more from any connection once
    # it stops, so a request must have arrived whole to be finished.)
    in_flight = post_raw(port(5790), "/login", body.encode(), headers)
    time.sleep(0.05)  # accepted at once by an idle event loop; scrypt with 128 MiB takes longer anywhere
    assert not answered(in_flight), "the sign-in was answered before SIGTERM: nothing was in flight"
    assert desk.process is not None
    desk.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    answer = answer_of(in_flight)
    assert answer.startswith(b"HTTP/1.1 303"), answer[:300]
    assert b"loom_desk=" in answer  # the session was stored: the sign-in ran to its end

    elapsed = exit_after(desk, signalled)
    assert desk.process.returncode == 0, desk.tail()
    assert elapsed < 5.0, f"{elapsed:.1f} s: something held the shutdown"
    stream.join(timeout=5)
    assert stream.ended_at is not None, "the live-update stream was still open after the desk stopped"
    assert stream.error is None, f"the stream was cut instead of ended: {stream.error!r}"
    assert stream.ended_at - signalled < 5.0


# --- the action server ---------------------------------------------------------------------------

SLOW_ACTIONS = """
import asyncio
import os
from pathlib import Path

from rasa_sdk import Action


class Slow(Action):
    def name(self):
        return "action_slow"

    async def run(self, dispatcher, tracker, domain):
        Path(os.environ["SLOW_ACTION_MARKER"]).touch()
        await asyncio.sleep(1.5)
        dispatcher.utter_message(text="done after all")
        return []
"""


def action_call(action: str) -> dict:
    """What Rasa posts to /webhook to run an action."""
    tracker = {
        "sender_id": "deploy-test",
        "slots": {},
        "latest_message": {},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": None,
    }
    return {"next_action": action, "sender_id": "deploy-test", "tracker": tracker, "domain": {}}


def action_server(actions: str, env: dict[str, str | None], tmp_path: Path) -> Service:
    """`python -m bot.action_server --actions <actions>` on all interfaces, as in the image."""
    listen = port(5755)
    return launch(
        "actions",
        [sys.executable, "-m", "bot.action_server", "--actions", actions, "--port", str(listen)],
        f"http://127.0.0.1:{listen}/health",
        {"ACTION_SERVER_TOKEN": ACTION_TOKEN, "ACTION_SERVER_HOST": "0.0.0.0", **env},
        tmp_path / "actions.log",
    )


def test_the_action_server_exits_0_at_once_when_stopped_right_after_it_started(
    migrated_database, stopper, tmp_path
):
    # A rollout or a scale-down may stop a pod the moment it became ready. Sanic's worker manager
    # (the action server's process until this test) spun for ever when SIGTERM came before it had seen
    # its worker's start-up acknowledgement, and only SIGKILL ended it.
    env = {"DATABASE_URL": migrated_database, "VAR_DIR": str(tmp_path)}
    server = action_server("actions", env, tmp_path)
    stopper.append(server)
    deadline = time.monotonic() + 10
    while "Worker ready" not in server.tail(5):  # Sanic's last start-up line: its main loop begins
        assert time.monotonic() < deadline, server.tail()
        time.sleep(0.005)
    elapsed = terminate(server)
    assert server.process is not None and server.process.returncode == 0, server.tail()
    assert elapsed < STOP_BOUND


def test_an_action_in_flight_is_answered_after_sigterm_then_the_server_exits_0(stopper, tmp_path):
    package = tmp_path / "package"
    package.mkdir()
    (package / "deploy_slow_actions.py").write_text(textwrap.dedent(SLOW_ACTIONS))
    marker = tmp_path / "action-started"
    env = {"PYTHONPATH": str(package), "SLOW_ACTION_MARKER": str(marker), "VAR_DIR": str(tmp_path)}
    server = action_server("deploy_slow_actions", env, tmp_path)
    stopper.append(server)
    answers: list[requests.Response] = []
    call = threading.Thread(
        target=lambda: answers.append(
            requests.post(
                f"http://127.0.0.1:{port(5755)}/webhook",
                json=action_call("action_slow"),
                headers={"Authorization": f"Bearer {ACTION_TOKEN}"},
                timeout=30,
            )
        )
    )
    call.start()
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline, server.tail()
        time.sleep(0.02)

    elapsed = terminate(server)  # the action sleeps 1.5 s more: SIGTERM lands in the middle of it
    call.join(timeout=10)
    assert answers, "the action call got no answer"
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["responses"][0]["text"] == "done after all"
    assert server.process is not None and server.process.returncode == 0, server.tail()
    assert elapsed < 5.0, f"{elapsed:.1f} s: the answered connection held the shutdown"
