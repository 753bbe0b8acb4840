"""bot/devtools/launcher.py: stopping on signals and on deaths, one run per VAR_DIR, the set-up's output.

Stopping on every signal and on make's or the launcher's own death; one run per VAR_DIR; the set-up's
progress and its table of times.

The process tests run the real launcher (`main`, under a real `make` with the Makefile's shell) on a
stack of cheap services: the real simulator, and two small HTTP servers standing in for the action
server and Rasa, each in its own session as the real ones are; only the database set-up is left out.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.catalog.indexing import by_tenths
from bot.devtools import launcher
from bot.devtools.devstack import ROOT, Ports, Stack, same_address
from bot.devtools.launcher import (
    AlreadyRunning,
    Holder,
    hold_run_lock,
    lock_path,
    make_steps,
    overridden_notes,
    running,
)

from ...ports import free_port
from .test_devstack import gone

# The launcher's main with a cheap stack: the real simulator, toy actions and Rasa (HTTP servers).
CHEAP_LAUNCHER = """
import sys
from bot.devtools import launcher
from bot.devtools.devstack import Ports, Stack

def cheap_stack():
    stack = Stack(Ports.from_env(), simulator=True, desk=False, monitoring=False)
    for service in stack.services:
        if service.name != "simulator":
            port = service.ready_url.split(":")[2].split("/")[0]
            service.command = [sys.executable, "-m", "http.server", port, "--bind", "127.0.0.1"]
            service.ready_url = f"http://127.0.0.1:{port}/"
    return stack

def no_database(settings, progress, steps):
    progress("migrate: up to date")
    steps.append(("migrate", 0.01, "0 applied"))

launcher.Stack = cheap_stack
launcher.prepare_database = no_database
launcher.ensure_demo_accounts = lambda settings, note: {"agent": "demo-password"}
launcher.main([])
"""

# Like the project's Makefile: bash as the recipes' shell, make steps timed into setup-times.tsv.
MAKEFILE = """
SHELL := /bin/bash
TIMES := $(VAR_DIR)/run/setup-times.tsv
run:
\t@mkdir -p $(VAR_DIR)/run && printf 'install runtime A\\t412.3\\ntrain\\t0.4\\n' > $(TIMES)
\t@{python} {script}
"""


def children(pid: int) -> list[int]:
    """The live processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def wait_for(check: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll until `check()` is true; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} not met in {timeout:.0f} s"
        time.sleep(0.05)


class Run:
    """A launcher run on the cheap stack, started under make or alone, with its output in a file."""

    def __init__(self, tmp_path: Path, under_make: bool) -> None:
        self.var_dir = tmp_path / "var"
        self.output = tmp_path / "output.txt"
        script = tmp_path / "cheap_launcher.py"
        script.write_text(CHEAP_LAUNCHER)
        env = {
            **os.environ,
            "VAR_DIR": str(self.var_dir),
            **{name: str(free_port()) for name in ("SIM_PORT", "ACTION_PORT", "RASA_PORT", "DESK_PORT")},
        }
        if under_make:
            makefile = tmp_path / "Makefile"
            makefile.write_text(MAKEFILE.format(python=sys.executable, script=script))
            command = ["make", "--no-print-directory", "-f", str(makefile), "run"]
        else:
            command = [sys.executable, str(script)]
        with self.output.open("wb") as out:  # its own session: signals to its group reach nobody else
            self.top = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            wait_for(lambda: "Set-up took" in self.text() or self.top.poll() is not None, what="ready")
            assert "Set-up took" in self.text(), self.text()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):  # a launcher that could not start has ended
                os.killpg(self.top.pid, signal.SIGTERM)  # the launcher stops what it started
            self.top.wait(timeout=30)
            raise
        holder = running(self.var_dir)
        assert isinstance(holder, AlreadyRunning) and holder.holder is not None
        self.launcher = holder.holder.pid
        self.services = children(self.launcher)

    def text(self) -> str:
        """What it printed so far."""
        return self.output.read_text(errors="replace")

    def every_pid(self) -> list[int]:
        """The make process (if any), the launcher and every service."""
        return list(dict.fromkeys([self.top.pid, self.launcher, *self.services]))

    def all_gone(self) -> bool:
        """Whether every process of the run has ended."""
        self.top.poll()  # reap our own child
        return all(gone(pid) for pid in self.every_pid())

    def kill_everything(self) -> None:
        """Clean-up after a failed test."""
        for pid in self.every_pid():
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        self.top.wait(timeout=10)


@pytest.fixture
def run_under_make(tmp_path) -> Iterator[Run]:
    """`make run` on the cheap stack, ready."""
    run = Run(tmp_path, under_make=True)
    yield run
    run.kill_everything()


@pytest.fixture
def run_alone(tmp_path) -> Iterator[Run]:
    """The launcher alone on the cheap stack, ready."""
    run = Run(tmp_path, under_make=False)
    yield run
    run.kill_everything()


@pytest.mark.slow  # a real make and launcher with three processes
def test_the_cheap_stack_is_three_services_in_their_own_sessions(run_under_make):
    run = run_under_make
    assert len(run.services) == 3
    assert all(os.getsid(pid) == pid for pid in run.services)  # not in make's group or session
    assert os.getsid(run.launcher) == run.top.pid  # the launcher is in make's


@pytest.mark.slow  # a real make and launcher with three processes
@pytest.mark.parametrize(
    "how",
    [
        "SIGTERM to make",  # a process supervisor, a container runtime
        "SIGTERM to make's process group",  # the launcher gets it twice: from the sender and from make
        "SIGINT to make's process group",  # Ctrl-C in the terminal
        "SIGKILL to make",  # the launcher notices its parent died
    ],
)
def test_stopping_make_stops_every_process_it_started(run_under_make, how):
    run = run_under_make
    name, _, target = how.partition(" to ")
    sig = signal.Signals[name]
    if target == "make":
        os.kill(run.top.pid, sig)
    else:
        os.killpg(run.top.pid, sig)
    wait_for(run.all_gone, what="every process gone")
    assert "stopped." in run.text()
    assert running(run.var_dir) is None  # the next make run may start


@pytest.mark.slow  # a real make and launcher with three processes
def test_a_sigkilled_launcher_leaves_no_service_behind(run_alone):
    run = run_alone
    os.kill(run.launcher, signal.SIGKILL)
    wait_for(run.all_gone, what="every service gone")  # the kernel's SIGTERM to each (PR_SET_PDEATHSIG)
    assert running(run.var_dir) is None  # the lock died with it; its stale file blocks nothing


@pytest.mark.slow  # a real make and launcher with three processes
def test_a_second_run_says_which_one_is_running_before_doing_anything(run_alone, tmp_path):
    run = run_alone
    env = {**os.environ, "VAR_DIR": str(run.var_dir)}
    for args in ([], ["--check"]):
        second = subprocess.run(
            [sys.executable, "-m", "bot.devtools.launcher", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        pid = run.launcher
        expected = (
            rf"make run is already running \(pid {pid}, started \d\d:\d\d; "
            rf"stop it with Ctrl-C there or `kill {pid}`\)"
        )
        assert re.fullmatch(expected, second.stderr.strip()), second.stderr
        assert second.stdout == ""  # nothing was prepared or started
    os.kill(run.launcher, signal.SIGTERM)
    wait_for(run.all_gone, what="every process gone")
    check = subprocess.run([sys.executable, "-m", "bot.devtools.launcher", "--check"], cwd=ROOT, env=env)
    assert check.returncode == 0


@pytest.mark.slow  # a real make and launcher with three processes
def test_the_set_up_table_has_the_make_steps_and_each_services_start(run_under_make):
    text = run_under_make.text()
    table = text[text.index("Set-up took") :].splitlines()
    assert re.fullmatch(r"Set-up took [67] min \d\d s:", table[0])  # make's 412.7 s, then the launcher's
    assert re.fullmatch(r"  install runtime A +412\.3 s  make", table[1])
    assert re.fullmatch(r"  train +0\.4 s  make", table[2])
    assert re.fullmatch(r"  migrate +0\.0 s  0 applied", table[3])
    assert re.fullmatch(r"  desk accounts +\d+\.\d s  agent", table[4])
    assert re.fullmatch(
        r"  start services +\d+\.\d s  side by side, seconds to ready: (\w+ \d+\.\d(, )?){3}", table[5]
    )
    assert "  Desk sign-in     agent / demo-password" in text
    assert f"Stop: Ctrl-C (or `kill {run_under_make.launcher}`)" in text


def test_the_table_puts_each_service_with_its_seconds_to_ready():
    stack = Stack(Ports(6305, 6315, 6320, 6325), simulator=True)
    for service, seconds in zip(stack.services, (1.1, 2.6, 47.2, 3.0, 1.6), strict=True):
        service.ready_seconds = seconds
    steps = [("install runtime A", 412.3, "make"), ("index", 129.04, "540 image views")]
    assert launcher.setup_table(steps, stack, 49.8, 600.0).splitlines() == [
        "Set-up took 10 min 00 s:",
        "  install runtime A    412.3 s  make",
        "  index                129.0 s  540 image views",
        "  start services        49.8 s  side by side, seconds to ready: rasa 47.2, desk 3.0, actions 2.6, "
        "simulator 1.1; then monitoring 1.6",
    ]


def test_a_setup_times_file_from_an_earlier_make_is_left_out(tmp_path):
    path = tmp_path / "run" / "setup-times.tsv"
    path.parent.mkdir()
    path.write_text("install runtime A\t412.3\nnot a line\ntrain\t0.4\n\t3\n")
    written = path.stat().st_mtime
    assert make_steps(tmp_path, since=written - 0.5) == [
        ("install runtime A", 412.3, "make"),
        ("train", 0.4, "make"),
    ]
    assert make_steps(tmp_path, since=written + 60) == []  # older than this make
    assert make_steps(tmp_path, since=None) == []  # no make above the launcher
    assert make_steps(tmp_path / "elsewhere", since=0) == []


def test_the_run_lock_is_one_per_var_dir_and_dies_with_its_holder(tmp_path):
    first = hold_run_lock(tmp_path)
    try:
        with pytest.raises(AlreadyRunning) as caught:
            hold_run_lock(tmp_path, patience=0.2)
        assert caught.value.holder is not None and caught.value.holder.pid == os.getpid()
        assert caught.value.holder.what == "make run"
        hold_run_lock(tmp_path / "other").close()  # another VAR_DIR, another run
    finally:
        first.close()
    assert running(tmp_path) is None
    assert lock_path(tmp_path).read_text().split()[0] == str(os.getpid())  # stale content blocks nothing
    hold_run_lock(tmp_path).close()


def test_the_message_names_the_day_when_it_is_not_today():
    holder = Holder(pid=1234, started=time.time() - 3 * 86400, what="make run")
    assert re.fullmatch(
        r"make run is already running \(pid 1234, started \d{4}-\d\d-\d\d \d\d:\d\d; "
        r"stop it with Ctrl-C there or `kill 1234`\)",
        holder.message(),
    )


def test_addresses_the_environment_set_are_replaced_and_said(monkeypatch):
    ports = Ports(6305, 6315, 6320, 6325)
    monkeypatch.setenv("ACTION_ENDPOINT_URL", "http://127.0.0.1:5055/webhook")  # the Makefile's default
    monkeypatch.setenv("RASA_URL", "http://localhost:6305/")  # the same place, said differently
    stack = Stack(ports, simulator=True)
    assert stack.env["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:6315/webhook"
    assert stack.env["RASA_URL"] == "http://127.0.0.1:6305"
    assert stack.overridden == {
        "ACTION_ENDPOINT_URL": ("http://127.0.0.1:5055/webhook", "http://127.0.0.1:6315/webhook")
    }
    assert overridden_notes(stack) == [
        "note: ACTION_ENDPOINT_URL=http://127.0.0.1:5055/webhook from the environment is not used: make run "
        "starts that service itself and uses http://127.0.0.1:6315/webhook (set ACTION_PORT to move it)"
    ]
    passed = Stack(ports, env={"ACTION_ENDPOINT_URL": "http://10.0.0.5:5055/webhook"}, simulator=True)
    assert passed.env["ACTION_ENDPOINT_URL"] == "http://10.0.0.5:5055/webhook"  # a caller's env wins
    assert "ACTION_ENDPOINT_URL" not in passed.overridden
    assert not same_address("http://127.0.0.1:5055/webhook", "http://10.0.0.5:5055/webhook")
    assert not same_address("http://127.0.0.1:5055/webhook", "http://127.0.0.1:5056/webhook")


def test_indexing_progress_comes_by_tenths():
    lines: list[str] = []
    report = by_tenths("image views embedded", lines.append)
    report(0, 540)
    for done in range(16, 540, 16):
        report(done, 540)
    report(540, 540)
    assert lines[0] == "image views embedded: 0/540 (0%)"
    assert lines[-1] == "image views embedded: 540/540 (100%)"
    assert len(lines) == 11
    assert [int(line.split("(")[1].rstrip("%)")) // 10 for line in lines] == list(range(11))


def test_the_database_set_up_says_each_step_and_its_count(tmp_path, monkeypatch):
    """Migrations and seeding for real (SQLite); the index is only checked, not built (minutes)."""
    from bot.settings import Settings

    monkeypatch.setattr(launcher, "up_to_date", lambda engine, catalog_dir: True)
    lines: list[str] = []
    steps: launcher.Steps = []
    settings = Settings.from_env({"VAR_DIR": str(tmp_path)})
    launcher.prepare_database(settings, progress=lines.append, steps=steps)
    assert re.fullmatch(r"migrate: \d+ migration\(s\) to apply to sqlite:///.*loom\.db \.\.\.", lines[0])
    assert lines[1] == "seed: adding the demo data that is missing ..."
    assert re.fullmatch(r"  making \d+ demo photos for \d+ products \.\.\.", lines[2])
    assert re.fullmatch(r"seed: \d+ products, .*, \d+ images", lines[3])
    assert lines[4] == "index: the catalogue index is up to date"
    assert [name for name, _, _ in steps] == ["migrate", "seed", "index"]
    assert re.fullmatch(r"\d+ products, \d+ orders, \d+ images added", steps[1][2])
    lines.clear()
    launcher.prepare_database(settings, progress=lines.append)
    assert lines[:4] == [
        "migrate: up to date",
        "seed: adding the demo data that is missing ...",
        "seed: nothing new (already present)",
        "index: the catalogue index is up to date",
    ]
