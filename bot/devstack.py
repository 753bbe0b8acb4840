"""Start, watch and stop the assistant's processes: used by `make run`, `make shell`, tests and benchmarks.

Each service runs in its own process group with its output in a log file; readiness is an HTTP check.
Stopping sends SIGTERM to the whole group and SIGKILL to whatever is left after a grace period.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL = ROOT / "models" / "current.tar.gz"
START_TIMEOUT = 300.0  # Rasa needs about a minute to import TensorFlow and load the model
STOP_GRACE = 10.0


class StackError(RuntimeError):
    """A service did not start, or died."""


@dataclass(frozen=True)
class Ports:
    """Where the services listen."""

    rasa: int = 5005
    actions: int = 5055
    simulator: int = 5080
    desk: int = 5090

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Ports:
        """RASA_PORT, ACTION_PORT and SIM_PORT, or the defaults."""
        env = os.environ if env is None else env
        return cls(
            rasa=int(env.get("RASA_PORT", 5005)),
            actions=int(env.get("ACTION_PORT", 5055)),
            simulator=int(env.get("SIM_PORT", 5080)),
            desk=int(env.get("DESK_PORT", 5090)),
        )


def simulator_defaults(ports: Ports) -> dict[str, str]:
    """Settings that point the Meta and X channels at the local simulator (bot/simulator).

    Only defaults: a variable set in the environment wins, so real META_* / X_* values talk to the
    real platforms.
    """
    from bot.simulator.config import SimulatorConfig

    sim = SimulatorConfig()
    return {
        "META_APP_SECRET": sim.app_secret,
        "META_VERIFY_TOKEN": sim.verify_token,
        "META_PAGE_ACCESS_TOKEN": sim.page_access_token,
        "INSTAGRAM_ACCESS_TOKEN": sim.instagram_access_token,
        "META_APP_ID": sim.app_id,
        "META_GRAPH_API_URL": f"http://127.0.0.1:{ports.simulator}/v21.0",
        "X_CONSUMER_KEY": sim.x_consumer_key,
        "X_CONSUMER_SECRET": sim.x_consumer_secret,
        "X_ACCESS_TOKEN": sim.x_access_token,
        "X_ACCESS_TOKEN_SECRET": sim.x_access_token_secret,
        "X_USER_ID": sim.x_user_id,
        "X_API_URL": sim.x_api_url(f"http://127.0.0.1:{ports.simulator}"),
        "SIM_WEBHOOK_BASE": f"http://127.0.0.1:{ports.rasa}/webhooks",
        "SIM_PUBLIC_URL": f"http://127.0.0.1:{ports.simulator}",
    }


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class Service:
    """One managed process."""

    name: str
    command: list[str]
    ready_url: str
    log_path: Path
    env: dict[str, str | None] = field(default_factory=dict)  # None removes an inherited variable
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Launch the process in its own process group, output to the log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env={k: v for k, v in {**os.environ, **self.env}.items() if v is not None},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        """Whether the service answers its readiness URL."""
        return http_ok(self.ready_url)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after the grace period."""
        if not self.alive():
            return
        assert self.process is not None
        for sig, wait in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, STOP_GRACE)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def tail(self, lines: int = 30) -> str:
        """The end of the log, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def secrets_defaults(env: Mapping[str, str | None]) -> dict[str, str]:
    """Tokens the services share: Rasa's HTTP API token and the desk's token for agent replies.

    Random for each stack unless set, so a local run never has a guessable API token.
    """
    return {
        name: value
        for name in ("RASA_API_TOKEN", "DESK_API_TOKEN")
        if not env.get(name) and (value := secrets.token_hex(24))
    }


class Stack:
    """The simulator, the action server, the Rasa server and the desk, started and stopped together."""

    def __init__(
        self,
        ports: Ports | None = None,
        env: Mapping[str, str | None] | None = None,
        log_dir: Path | None = None,
        model: Path = MODEL,
        python: str = sys.executable,
    ) -> None:
        self.ports = ports or Ports.from_env()
        merged_env = {**os.environ, **(env or {})}
        log_dir = log_dir or ROOT / (merged_env.get("VAR_DIR") or "var") / "log"
        defaults = {k: v for k, v in simulator_defaults(self.ports).items() if not merged_env.get(k)}
        base_env: dict[str, str | None] = {
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.ports.actions}/webhook",
            "RASA_URL": f"http://127.0.0.1:{self.ports.rasa}",
            "DESK_PORT": str(self.ports.desk),
            **defaults,
            **secrets_defaults(merged_env),
            **(env or {}),
        }
        self.env = base_env
        self.rasa_token = str(base_env["RASA_API_TOKEN"])
        rasa_command = [str(RASA_BIN), "run", "--model", str(model), "--enable-api"]
        rasa_command += [f"--auth-token={self.rasa_token}"]  # "=": a token may start with "-"
        rasa_command += ["--interface", "127.0.0.1", "--port", str(self.ports.rasa)]
        rasa_command += ["--endpoints", "endpoints.yml", "--credentials", "credentials.yml"]
        # rasa-sdk's action server plus GET /metrics: the same options, port and /health
        actions_command = [python, "-m", "bot.action_server", "--actions", "actions"]
        actions_command += ["--port", str(self.ports.actions)]
        self.services = [
            Service(
                name="simulator",
                command=[python, "-m", "bot.simulator", "--port", str(self.ports.simulator)],
                ready_url=f"http://127.0.0.1:{self.ports.simulator}/_sim/health",
                log_path=log_dir / f"simulator-{self.ports.simulator}.log",
                env=base_env,
            ),
            Service(
                name="actions",
                command=actions_command,
                ready_url=f"http://127.0.0.1:{self.ports.actions}/health",
                log_path=log_dir / f"actions-{self.ports.actions}.log",
                env=base_env,
            ),
            Service(
                name="rasa",
                command=rasa_command,
                ready_url=f"http://127.0.0.1:{self.ports.rasa}/status?token={self.rasa_token}",
                log_path=log_dir / f"rasa-{self.ports.rasa}.log",
                env=base_env,
            ),
            Service(
                name="desk",
                command=[python, "-m", "bot.desk", "--port", str(self.ports.desk)],
                ready_url=f"http://127.0.0.1:{self.ports.desk}/health",
                log_path=log_dir / f"desk-{self.ports.desk}.log",
                env=base_env,
            ),
        ]

    @property
    def simulator_url(self) -> str:
        """Base URL of the local Meta simulator."""
        return f"http://127.0.0.1:{self.ports.simulator}"

    @property
    def rasa_url(self) -> str:
        """Base URL of the Rasa server."""
        return f"http://127.0.0.1:{self.ports.rasa}"

    @property
    def desk_url(self) -> str:
        """Base URL of the agent desk."""
        return f"http://127.0.0.1:{self.ports.desk}"

    def rasa_api(self, path: str) -> str:
        """A Rasa HTTP API URL with the stack's token (e.g. `/conversations/ID/tracker`)."""
        separator = "&" if "?" in path else "?"
        return f"{self.rasa_url}{path}{separator}token={self.rasa_token}"

    def start(self, progress: Callable[[str], None] = lambda _: None, timeout: float = START_TIMEOUT) -> None:
        """Start every service and wait until all are ready; on failure stop them and raise."""
        for service in self.services:
            if service.ready():
                self.stop()
                raise StackError(f"port of {service.name} is already in use ({service.ready_url})")
            service.start()
        self._wait_ready(list(self.services), progress, timeout)

    def service(self, name: str) -> Service:
        """The service called `name`."""
        return next(s for s in self.services if s.name == name)

    def restart(self, name: str, timeout: float = START_TIMEOUT) -> None:
        """Stop one service and start it again (e.g. to show a restart loses nothing)."""
        service = self.service(name)
        service.stop()
        service.start()
        self._wait_ready([service], lambda _: None, timeout)

    def _wait_ready(self, waiting: list[Service], progress: Callable[[str], None], timeout: float) -> None:
        started = time.monotonic()
        try:
            while waiting:
                for service in list(waiting):
                    if not service.alive():
                        raise StackError(f"{service.name} exited during start-up:\n{service.tail()}")
                    if service.ready():
                        waiting.remove(service)
                        progress(f"{service.name} ready after {time.monotonic() - started:.0f} s")
                if time.monotonic() - started > timeout:
                    names = ", ".join(s.name for s in waiting)
                    raise StackError(f"{names} not ready after {timeout:.0f} s:\n{waiting[0].tail()}")
                time.sleep(0.5)
        except BaseException:
            self.stop()
            raise

    def dead(self) -> list[Service]:
        """Services that have exited."""
        return [s for s in self.services if not s.alive()]

    def stop(self) -> None:
        """Stop every service (Rasa first, so it sends nothing to a stopped action server)."""
        for service in reversed(self.services):
            service.stop()

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
