"""Long content jobs the desk starts (the regression report, training and loading a model), one at a time.

Each job is a child process of the desk with its output in a log file under `$VAR_DIR/content/`; its
state is a small JSON file beside it, so every desk replica on this machine (and a restarted desk)
shows the same job, and a second start while one runs is refused. A job whose process is gone without
writing its end (the desk was killed) reads as "interrupted".
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.settings import local_var_dir

TAIL_BYTES = 16_000


class JobError(RuntimeError):
    """A job cannot start (another one runs); the message is for the editor."""


@dataclass(frozen=True)
class Job:
    """One job's state, as its JSON file holds it."""

    kind: str
    title: str
    pid: int
    started: str
    finished: str | None = None
    exit_code: int | None = None

    @property
    def running(self) -> bool:
        """Not finished, and its process still there."""
        return self.finished is None and _alive(self.pid)

    @property
    def state(self) -> str:
        """In words, for the page."""
        if self.finished is None:
            return "running" if _alive(self.pid) else "interrupted"
        return "done" if self.exit_code == 0 else f"ended with exit code {self.exit_code}"


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: the signal's answer is all there is
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Jobs:
    """Starts and reads the content jobs of one project checkout."""

    def __init__(self, root: Path, env: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.folder = local_var_dir(dict(os.environ if env is None else env)) / "content"
        if not self.folder.is_absolute():
            self.folder = root / self.folder
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def _state(self) -> Path:
        """The job's state file."""
        return self.folder / "job.json"

    @property
    def log(self) -> Path:
        """The job's output."""
        return self.folder / "job.log"

    def current(self) -> Job | None:
        """The last job started (running or not), None before the first."""
        if self._process is not None:
            self._process.poll()  # reaps our own child once it ended
        try:
            return Job(**json.loads(self._state.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def output(self) -> str:
        """The end of the job's output."""
        try:
            with self.log.open("rb") as file:
                file.seek(max(0, self.log.stat().st_size - TAIL_BYTES))
                return file.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def start(self, kind: str, title: str, steps: Sequence[Sequence[str]], env: Mapping[str, str]) -> Job:
        """Run `steps` (commands, one after the other; the first failure ends the job) in the background."""
        running = self.current()
        if running is not None and running.running:
            raise JobError(f"{running.title} is still running (started {running.started}): wait for it")
        self.folder.mkdir(parents=True, exist_ok=True)
        commands = json.dumps([list(step) for step in steps])
        script = [sys.executable, "-m", "bot.content.jobs", str(self._state), commands]
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                script,
                cwd=self.root,
                env=dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a desk restart does not stop a training half way
            )
        job = Job(kind=kind, title=title, pid=self._process.pid, started=_now())
        self._state.write_text(json.dumps(asdict(job)))
        return job


def _run(state: Path, steps: list[list[str]]) -> int:
    """The job process: each step in turn, output to ours (the log); its end written to the state file."""
    code = 0
    for step in steps:
        print(f"$ {' '.join(step)}", flush=True)
        code = subprocess.call(step)
        if code != 0:
            break
    for _ in range(100):  # the desk writes the state file just after starting us: a quick job waits
        job = json.loads(state.read_text()) if state.exists() else {}
        if job.get("pid") == os.getpid():
            job.update(finished=_now(), exit_code=code)
            state.write_text(json.dumps(job))
            break
        time.sleep(0.1)
    return code


if __name__ == "__main__":
    sys.exit(_run(Path(sys.argv[1]), json.loads(sys.argv[2])))
