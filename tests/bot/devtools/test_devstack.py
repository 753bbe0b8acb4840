"""bot/devtools/devstack.py: Rasa replicas, the optional desk and monitoring, killing and reviving services.

The layout tests build stacks without starting them. The process tests run small real processes (an
HTTP server each, on free ports) in place of the services, so `kill`, `Stack.kill` and `Stack.revive`
act on real process groups in about a second.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from bot.devtools.devstack import (
    Ports,
    Service,
    Stack,
    StackError,
    check_replica_ports,
    rasa_service_name,
)

from ...ports import free_port

PORTS = Ports(6205, 6215, 6220, 6225)  # never started here


def test_replicas_are_numbered_from_one_on_consecutive_ports():
    assert [PORTS.rasa_replica(k) for k in (1, 2, 3)] == [6205, 6206, 6207]
    assert [rasa_service_name(k) for k in (1, 2, 3)] == ["rasa", "rasa-2", "rasa-3"]
    with pytest.raises(ValueError):
        PORTS.rasa_replica(0)


def test_one_replica_the_desk_and_monitoring_by_default():
    stack = Stack(PORTS, simulator=True)
    assert [s.name for s in stack.services] == ["simulator", "actions", "rasa", "desk", "monitoring"]
    assert stack.rasa_urls == [stack.rasa_url] == ["http://127.0.0.1:6205"]


def test_monitoring_is_its_own_process_beside_the_desk(tmp_path):
    stack = Stack(PORTS, env={"VAR_DIR": str(tmp_path)}, simulator=True)
    monitoring = stack.service("monitoring")
    assert monitoring.command[1:] == ["-m", "bot.monitoring", "--port", "6230"]  # five above the desk
    assert monitoring.ready_url == f"{stack.monitoring_url}/health" == "http://127.0.0.1:6230/health"
    assert monitoring.env is stack.env and stack.env["MONITORING_PORT"] == "6230"
    assert monitoring.log_path == tmp_path / "log" / "monitoring-6230.log"
    assert Ports(1, 2, 3, 4, 9).monitoring == 9 and Ports.from_env({}).monitoring == 5095
    assert Ports.from_env({"DESK_PORT": "7090", "MONITORING_PORT": "7000"}).monitoring == 7000
    without_desk = Stack(PORTS, simulator=True, desk=False)
    assert [s.name for s in without_desk.services] == ["simulator", "actions", "rasa"]
    only_monitoring = Stack(PORTS, simulator=True, desk=False, monitoring=True)
    assert [s.name for s in only_monitoring.services][-1] == "monitoring"
    assert "monitoring" not in [s.name for s in Stack(PORTS, simulator=True, monitoring=False).services]


def test_extra_replicas_share_the_environment_and_listen_on_their_own_ports(tmp_path):
    stack = Stack(PORTS, env={"VAR_DIR": str(tmp_path)}, simulator=True, rasa_replicas=3, desk=False)
    assert [s.name for s in stack.services] == ["simulator", "actions", "rasa", "rasa-2", "rasa-3"]
    replicas = [stack.service(rasa_service_name(k)) for k in (1, 2, 3)]
    ports = [r.command[r.command.index("--port") + 1] for r in replicas]
    assert ports == ["6205", "6206", "6207"]
    assert [r.ready_url for r in replicas] == [f"{url}/status" for url in stack.rasa_urls]
    assert len({r.log_path for r in replicas}) == 3 and all(
        r.log_path.parent == tmp_path / "log" for r in replicas
    )
    assert all(r.env is stack.env for r in replicas)  # one tracker store, lock store, inbox, secrets
    assert all(r.ready_headers == stack.rasa_api_headers for r in replicas)
    assert stack.env["RASA_URL"] == stack.rasa_url  # the desk and actions call the first replica
    assert stack.env["SIM_WEBHOOK_BASE"] == f"{stack.rasa_url}/webhooks"


def test_replicas_never_take_another_services_port():
    with pytest.raises(ValueError, match="actions"):
        check_replica_ports(Ports(5800, 5802, 5810, 5820), 3)
    with pytest.raises(ValueError, match="monitoring"):
        check_replica_ports(Ports(5800, 5810, 5820, 5830, 5801), 2)
    with pytest.raises(ValueError):
        Stack(PORTS, simulator=True, rasa_replicas=0)
    check_replica_ports(PORTS, 10)  # up to 6214, below the action server


# An HTTP server that first starts a grandchild in its process group, to show the whole group dies.
SERVER = """
import http.server, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open(sys.argv[2], "w").write(str(child.pid))
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


def toy_service(name: str, tmp_path: Path) -> Service:
    """A service that is an HTTP server on a free port, ready when it answers."""
    port = free_port()
    command = [sys.executable, "-c", SERVER, str(port), str(tmp_path / f"{name}.child")]
    return Service(name, command, f"http://127.0.0.1:{port}/", tmp_path / f"{name}.log")


def toy_stack(tmp_path: Path, names: tuple[str, ...] = ("simulator", "actions", "rasa", "rasa-2")) -> Stack:
    """A real Stack object whose services are toy servers."""
    stack = Stack(PORTS, env={"VAR_DIR": str(tmp_path)}, simulator=True, rasa_replicas=2, desk=False)
    stack.services = [toy_service(name, tmp_path) for name in names]
    return stack


def gone(pid: int) -> bool:
    """Whether no process has this id any more (a zombie counts as gone: it runs nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def wait_for(check, timeout: float = 10.0) -> None:
    """Wait until `check()` is true; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def stack(tmp_path):
    """A started toy stack, stopped at the end whatever happened."""
    toy = toy_stack(tmp_path)
    toy.start(timeout=30)
    yield toy
    toy.stop()


def test_monitoring_starts_once_the_others_are_ready(tmp_path):
    """It reads Rasa's tracker store, which Rasa creates at start-up."""
    toy = toy_stack(tmp_path, names=("rasa", "monitoring"))
    steps: list[tuple[str, str]] = []
    for service in toy.services:

        def start(service: Service = service, original=service.start) -> None:
            steps.append(("started", service.name))
            original()

        service.start = start  # type: ignore[method-assign]
    toy.start(progress=lambda line: steps.append(("ready", line.split()[0])), timeout=30)
    try:
        assert steps.index(("started", "monitoring")) > steps.index(("ready", "rasa"))
        assert not toy.dead()
    finally:
        toy.stop()


def test_kill_sends_sigkill_to_the_whole_group_and_reaps_it(stack, tmp_path):
    service = stack.service("rasa-2")
    pid = service.pid
    wait_for(lambda: (tmp_path / "rasa-2.child").exists() and (tmp_path / "rasa-2.child").read_text())
    child = int((tmp_path / "rasa-2.child").read_text())
    assert service.kill() is True
    assert service.process is not None and service.process.returncode == -signal.SIGKILL
    assert not service.alive() and service.pid is None and gone(pid)
    wait_for(lambda: gone(child))  # the grandchild was in the group (reaped by init, hence the wait)
    assert service.kill() is False  # nothing left to kill
    assert all(s.alive() for s in stack.services if s is not service)


def test_stack_kill_signals_every_service_before_waiting_and_revive_brings_them_back(stack):
    before = {s.name: s.pid for s in stack.services}
    killed = stack.kill()
    assert [s.name for s in killed] == ["simulator", "actions", "rasa", "rasa-2"]
    assert all(s.process is not None and s.process.returncode == -signal.SIGKILL for s in killed)
    assert stack.dead() == stack.services
    revived = stack.revive()
    assert [s.name for s in revived] == list(before)
    assert all(s.alive() and s.ready() for s in stack.services)
    assert all(s.pid != before[s.name] for s in stack.services)


def test_revive_starts_only_what_is_not_running(stack):
    actions_pid = stack.service("actions").pid
    stack.kill(["rasa"])
    assert [s.name for s in stack.dead()] == ["rasa"]
    assert [s.name for s in stack.revive()] == ["rasa"]
    assert stack.service("actions").pid == actions_pid and not stack.dead()
    assert stack.revive() == []  # everything runs: nothing to do


def test_kill_with_a_catchable_signal_waits_for_the_exit(stack):
    service = stack.service("actions")
    assert service.kill(signal.SIGTERM) is True
    assert service.process is not None and service.process.returncode == -signal.SIGTERM


def test_revive_refuses_a_port_someone_else_took(tmp_path):
    toy = toy_stack(tmp_path, names=("rasa",))
    toy.start(timeout=30)
    try:
        [service] = toy.services
        toy.kill()
        squatter = Service("squatter", service.command, service.ready_url, tmp_path / "squatter.log")
        squatter.start()
        try:
            wait_for(squatter.ready)
            with pytest.raises(StackError, match="already in use"):
                toy.revive()
        finally:
            squatter.stop()
    finally:
        toy.stop()


def test_a_service_that_ignores_a_signal_is_reported(tmp_path):
    command = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
               "print('ready', flush=True); time.sleep(600)"]  # fmt: skip
    service = Service("stubborn", command, "http://127.0.0.1:9/", tmp_path / "stubborn.log")
    service.start()
    try:
        wait_for(lambda: "ready" in service.tail())
        with pytest.raises(StackError, match="still running"):
            service.kill(signal.SIGTERM, timeout=0.5)
        assert service.alive()
    finally:
        service.kill()
    assert service.process is not None and service.process.returncode == -signal.SIGKILL
