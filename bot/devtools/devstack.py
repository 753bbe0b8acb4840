"""Start, watch and stop the assistant's processes: used by `make run`, `make shell`, tests and benchmarks.

Each service runs in its own process group with its output in a log file; readiness is an HTTP check.
On Linux the kernel also sends each service SIGTERM when the process that started it dies, even by
SIGKILL (`parent_death_signal`), so a killed `make run` leaves no orphans holding the ports.
Stopping sends SIGTERM to the whole group and SIGKILL to whatever is left after a grace period; `kill`
sends one signal (SIGKILL by default) without grace, as a crash or the OOM killer would, and `revive`
starts again whatever is not running (the fault harness, bench/fault_harness.py).

Several Rasa replicas (`rasa_replicas`) share one environment, so with DATABASE_URL and REDIS_URL they
share the tracker store, the lock store and the connectors' state, as replicas behind a load balancer.

Configuration fails closed. The platform channels talk to the local simulator (with its public secrets)
only when no real META_* / X_* variable is set; one real variable means every variable the channels
need must be real, and the simulator does not start. The shared secrets between the services (Rasa's
HTTP API, the REST channel, the action server, /metrics, the desk's agent replies) are random for each
stack unless set, and reach the processes through their environment, never their command lines.
The stack owns the addresses its services find each other at (ACTION_ENDPOINT_URL, RASA_URL): another
value inherited from the environment is replaced, and listed in `Stack.overridden` for the launcher to
say so (RASA_PORT and ACTION_PORT move the services).
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.conversations.api_auth import api_headers, jwt_secret_from_env
from bot.platform_env import PlatformConfigError, platform_settings, simulator_values
from bot.settings import LOOPBACK_HOSTS, PROJECT_ROOT, action_token_file, local_var_dir, write_private

ROOT = PROJECT_ROOT
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"  # `-m bot.rasa_server`: `rasa`, no secret in argv
MODEL = ROOT / "models" / "current.tar.gz"
START_TIMEOUT = 300.0  # Rasa needs about a minute to import TensorFlow and load the model
STOP_GRACE = 10.0
MONITORING_ABOVE_DESK = 5
STARTED_LAST = ("monitoring",)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class StackError(RuntimeError):
    """A service did not start, or died."""


class ConfigurationError(StackError):
    """The environment mixes real and simulated platform settings, or lacks some real ones."""


# Shared between the services; random for each stack unless set (RASA_JWT_SECRET: see secrets_defaults).
SHARED_SECRETS = ("DESK_API_TOKEN", "REST_CHANNEL_TOKEN", "ACTION_SERVER_TOKEN", "METRICS_TOKEN")


@dataclass(frozen=True)
class Ports:
    """Where the services listen."""

    rasa: int = 5005
    actions: int = 5055
    simulator: int = 5080
    desk: int = 5090
    monitoring: int = 0  # 0: five above the desk (5095), so stacks given four ports keep apart

    def __post_init__(self) -> None:
        if not self.monitoring:
            object.__setattr__(self, "monitoring", self.desk + MONITORING_ABOVE_DESK)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Ports:
        """RASA_PORT, ACTION_PORT, SIM_PORT, DESK_PORT and MONITORING_PORT, or the defaults."""
        env = os.environ if env is None else env
        return cls(
            rasa=int(env.get("RASA_PORT", 5005)),
            actions=int(env.get("ACTION_PORT", 5055)),
            simulator=int(env.get("SIM_PORT", 5080)),
            desk=int(env.get("DESK_PORT", 5090)),
            monitoring=int(env.get("MONITORING_PORT", 0)),
        )

    def rasa_replica(self, replica: int) -> int:
        """Port of Rasa replica `replica` (1-based): the first on `rasa`, the k-th on `rasa + k - 1`.

        Consecutive ports keep every replica of a stack inside its block of ports (the others sit 10
        or more above `rasa` in every layout used here); `Stack` refuses a replica on another service's port.
        """
        if replica < 1:
            raise ValueError(f"replicas are numbered from 1, got {replica}")
        return self.rasa + replica - 1


def rasa_service_name(replica: int) -> str:
    """`rasa` for the first replica (what `make run`, the tests and the banner know), `rasa-k` after."""
    return "rasa" if replica == 1 else f"rasa-{replica}"


def simulator_defaults(ports: Ports) -> dict[str, str]:
    """Settings that point the Meta and X channels at the local simulator (bot/simulator).

    The channels would default to the same (`bot.platform_env`); the stack sets them explicitly, on its
    own simulator port, for every process it starts.
    """
    simulator = f"http://127.0.0.1:{ports.simulator}"
    return {
        **simulator_values(simulator),
        "SIM_WEBHOOK_BASE": f"http://127.0.0.1:{ports.rasa}/webhooks",
        "SIM_PUBLIC_URL": simulator,
    }


def platform_env(env: Mapping[str, str | None], ports: Ports) -> tuple[dict[str, str], bool]:
    """The platform settings a stack adds to `env`, and whether it runs the simulator.

    The channels' rule (`bot.platform_env.platform_settings`): no real platform variable set, the
    simulator's settings (its secrets are public: fine for a local run, never for real traffic); any one
    set, all the channels' variables must be, nothing is added, and the simulator does not start; a
    ConfigurationError lists what is missing.
    """
    try:
        simulated = platform_settings(env).simulated
    except PlatformConfigError as err:
        raise ConfigurationError(str(err)) from err
    return (simulator_defaults(ports), True) if simulated else ({}, False)


def parent_death_signal(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` after which the kernel sends `sig` to the child when this process dies (Linux).

    None elsewhere, and None outside the main thread: the kernel signals when the *thread* that
    started the child ends, and a worker thread (`asyncio.to_thread(stack.revive)`) ends long before
    the process. Everything the child runs is looked up before the fork; a parent that died before
    the `prctl` took effect would never signal, so the child then exits at once.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent, exit_now, getppid = os.getpid(), os._exit, os.getppid

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if getppid() != parent:
            exit_now(1)

    return in_child


def follow_parent(sig: int = signal.SIGTERM) -> Callable[[], bool]:
    """Have the kernel send this process `sig` when its parent dies (Linux); a check that it has died.

    The check (the parent's pid changed: we were handed to init or a subreaper) also works where
    there is no `prctl`, and covers a parent that died before the request.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    return lambda: os.getppid() != parent


def same_address(first: str, second: str) -> bool:
    """Whether two URLs name the same place (127.0.0.1, localhost and ::1 count as one host)."""
    a, b = urllib.parse.urlsplit(first.strip()), urllib.parse.urlsplit(second.strip())
    try:
        ports = (a.port, b.port)
    except ValueError:
        return False
    hosts = {a.hostname, b.hostname}
    return (
        a.scheme == b.scheme
        and ports[0] == ports[1]
        and a.path.rstrip("/") == b.path.rstrip("/")
        and (len(hosts) == 1 or hosts <= set(LOOPBACK_HOSTS))
    )


def http_ok(url: str, timeout: float = 2.0, headers: Mapping[str, str] | None = None) -> bool:
    """Whether `url` answers 200 (to a GET with these headers)."""
    try:
        request = urllib.request.Request(url, headers=dict(headers or {}))
        with urllib.request.urlopen(request, timeout=timeout) as response:
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
    ready_headers: Callable[[], Mapping[str, str]] | None = None  # e.g. a fresh JWT for Rasa's /status
    started_at: float | None = None  # time.monotonic() at the last start
    ready_seconds: float | None = None  # from that start until it answered its readiness URL

    def start(self) -> None:
        """Launch the process in its own session, output to the log file; SIGTERMed if we die."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.ready_seconds = None
        self.started_at = time.monotonic()
        try:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env={k: v for k, v in {**os.environ, **self.env}.items() if v is not None},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=parent_death_signal(),  # main thread only: see there
            )
        finally:
            log.close()

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id of the running process (also its process group's id), or None."""
        return self.process.pid if self.alive() and self.process is not None else None

    def send_signal(self, sig: int) -> bool:
        """Send `sig` to the process group without waiting; whether there was a process to signal."""
        if not self.alive():
            return False
        assert self.process is not None
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def kill(self, sig: int = signal.SIGKILL, timeout: float = STOP_GRACE) -> bool:
        """Send `sig` (SIGKILL: no grace, nothing flushed) and reap the process; whether it was running.

        Raises StackError if the process outlives `timeout` (possible with a catchable signal).
        """
        if not self.send_signal(sig):
            return False
        self.wait_exit(timeout)
        return True

    def wait_exit(self, timeout: float = STOP_GRACE) -> None:
        """Wait for the process to exit (and reap it); StackError after `timeout`."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise StackError(f"{self.name} still running {timeout:.0f} s after the signal") from err

    def ready(self) -> bool:
        """Whether the service answers its readiness URL."""
        return http_ok(self.ready_url, headers=self.ready_headers() if self.ready_headers else None)

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


def rasa_command(model: Path, port: int) -> list[str]:
    """One Rasa server with our channels and API (`bot.rasa_server`: RASA_JWT_SECRET from the environment)."""
    return [
        *(str(RASA_PYTHON), "-m", "bot.rasa_server", "run", "--model", str(model), "--enable-api"),
        *("--interface", "127.0.0.1", "--port", str(port)),
        *("--endpoints", "endpoints.yml", "--credentials", "credentials.yml"),
    ]


def check_replica_ports(ports: Ports, replicas: int) -> None:
    """Refuse a replica count below 1, or replicas whose ports would be another service's."""
    if replicas < 1:
        raise ValueError(f"a stack needs at least one Rasa replica, got {replicas}")
    others = {
        "actions": ports.actions,
        "simulator": ports.simulator,
        "desk": ports.desk,
        "monitoring": ports.monitoring,
    }
    for replica in range(2, replicas + 1):
        port = ports.rasa_replica(replica)
        clash = [name for name, taken in others.items() if taken == port]
        if clash:
            raise ValueError(f"Rasa replica {replica} would listen on {port}, the {clash[0]}'s port")


def secrets_defaults(env: Mapping[str, str | None]) -> dict[str, str]:
    """Secrets the services share, for those not set: random for each stack, so none is guessable.

    RASA_JWT_SECRET (Rasa's HTTP API; the older RASA_API_TOKEN counts as set), DESK_API_TOKEN (the
    connectors' agent-reply route), REST_CHANNEL_TOKEN, ACTION_SERVER_TOKEN and METRICS_TOKEN.
    """
    names = [*(() if jwt_secret_from_env(env) else ("RASA_JWT_SECRET",)), *SHARED_SECRETS]
    return {name: secrets.token_urlsafe(32) for name in names if not env.get(name)}


def var_dir(env: Mapping[str, str | None]) -> Path:
    """The stack's local state directory: `$VAR_DIR`, relative to the project root (default `var`)."""
    return local_var_dir(env)


def rest_token_file(state_dir: Path, rasa_port: int) -> Path:
    """Where a stack leaves the REST token it generated, for `make shell` in another terminal."""
    return state_dir / "run" / f"rest-channel-{rasa_port}.token"


def send_rest(
    base_url: str, token: str, sender: str, text: str, timeout: float = 60.0
) -> list[dict[str, Any]]:
    """Post one message to the REST channel with its bearer token; the bot's replies."""
    body = json.dumps({"sender": sender, "message": text}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    request = urllib.request.Request(f"{base_url}/webhooks/rest/webhook", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


class Stack:
    """The simulator, the action server, the Rasa server(s), the desk and monitoring, started together.

    `simulator`: None decides from the environment (`platform_env`: raises ConfigurationError on a
    partial real setup); True forces the simulator's platform settings (tests), whatever the inherited
    environment says (`env` still wins); False never starts it. `rasa_replicas`: how many Rasa servers
    (services `rasa`, `rasa-2`, ... on `Ports.rasa_replica(k)`), all with the same environment. `desk`:
    False leaves the desk out (it is not needed to answer customers, and saves memory). `monitoring`
    (`python -m bot.monitoring`: recording messages, moderation, spike alerts): None runs it with the
    desk, whose pages show its work. The database must be migrated before `start` (as `make run` and
    the end-to-end tests do), since monitoring begins recording at once.
    """

    def __init__(
        self,
        ports: Ports | None = None,
        env: Mapping[str, str | None] | None = None,
        log_dir: Path | None = None,
        model: Path = MODEL,
        python: str = sys.executable,
        simulator: bool | None = None,
        rasa_replicas: int = 1,
        desk: bool = True,
        monitoring: bool | None = None,
    ) -> None:
        self.ports = ports or Ports.from_env()
        self.model = model  # what the replicas start with (models/current.tar.gz: `make run` watches it)
        self.rasa_replicas = rasa_replicas
        check_replica_ports(self.ports, rasa_replicas)
        merged_env = {**os.environ, **(env or {})}
        self.var_dir = var_dir(merged_env)
        log_dir = log_dir or self.var_dir / "log"
        if simulator is None:
            platform, self.simulator = platform_env(merged_env, self.ports)
            kept: Mapping[str, str | None] = merged_env
        else:
            platform = simulator_defaults(self.ports) if simulator else {}
            self.simulator, kept = simulator, env or {}
        defaults = {k: v for k, v in platform.items() if not kept.get(k)}
        self.generated = secrets_defaults(merged_env)
        addresses = {
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.ports.actions}/webhook",
            "RASA_URL": f"http://127.0.0.1:{self.ports.rasa}",
        }
        # The stack starts these services itself, so it sets where they are; an inherited value it
        # replaces is kept here (inherited, used) to be told. One passed in `env` wins, as ever.
        self.overridden = {
            name: (inherited, used)
            for name, used in addresses.items()
            if name not in (env or {})
            and (inherited := os.environ.get(name) or "")
            and not same_address(inherited, used)
        }
        base_env: dict[str, str | None] = {
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
            **addresses,
            "DESK_PORT": str(self.ports.desk),
            "MONITORING_PORT": str(self.ports.monitoring),
            **defaults,
            **self.generated,
            **(env or {}),
        }
        self.env = base_env
        self.rasa_jwt_secret = str(jwt_secret_from_env({**merged_env, **self.generated}))
        # rasa-sdk's action server plus GET /metrics: the same options, port and /health
        actions_command = [python, "-m", "bot.action_server", "--actions", "actions"]
        actions_command += ["--host", "127.0.0.1", "--port", str(self.ports.actions)]
        simulator_service = Service(
            name="simulator",
            command=[python, "-m", "bot.simulator", "--port", str(self.ports.simulator)],
            ready_url=f"http://127.0.0.1:{self.ports.simulator}/_sim/health",
            log_path=log_dir / f"simulator-{self.ports.simulator}.log",
            env=base_env,
        )
        desk_service = Service(
            name="desk",
            command=[python, "-m", "bot.desk", "--port", str(self.ports.desk)],
            ready_url=f"http://127.0.0.1:{self.ports.desk}/health",
            log_path=log_dir / f"desk-{self.ports.desk}.log",
            env=base_env,
        )
        monitoring_service = Service(
            name="monitoring",
            command=[python, "-m", "bot.monitoring", "--port", str(self.ports.monitoring)],
            ready_url=f"{self.monitoring_url}/health",
            log_path=log_dir / f"monitoring-{self.ports.monitoring}.log",
            env=base_env,
        )
        self.services = [
            *([simulator_service] if self.simulator else []),
            Service(
                name="actions",
                command=actions_command,
                ready_url=f"http://127.0.0.1:{self.ports.actions}/health",
                log_path=log_dir / f"actions-{self.ports.actions}.log",
                env=base_env,
            ),
            *(
                Service(
                    name=rasa_service_name(replica),
                    command=rasa_command(model, self.ports.rasa_replica(replica)),
                    ready_url=f"{self.rasa_replica_url(replica)}/status",
                    log_path=log_dir / f"rasa-{self.ports.rasa_replica(replica)}.log",
                    env=base_env,
                    ready_headers=self.rasa_api_headers,
                )
                for replica in range(1, rasa_replicas + 1)
            ),
            *([desk_service] if desk else []),
            *([monitoring_service] if (desk if monitoring is None else monitoring) else []),
        ]

    @property
    def simulator_url(self) -> str:
        """Base URL of the local Meta simulator."""
        return f"http://127.0.0.1:{self.ports.simulator}"

    @property
    def rasa_url(self) -> str:
        """Base URL of the Rasa server."""
        return f"http://127.0.0.1:{self.ports.rasa}"

    def rasa_replica_url(self, replica: int) -> str:
        """Base URL of Rasa replica `replica` (1 is `rasa_url`)."""
        return f"http://127.0.0.1:{self.ports.rasa_replica(replica)}"

    @property
    def rasa_urls(self) -> list[str]:
        """Base URLs of every Rasa replica, the first one first."""
        return [self.rasa_replica_url(replica) for replica in range(1, self.rasa_replicas + 1)]

    @property
    def desk_url(self) -> str:
        """Base URL of the agent desk."""
        return f"http://127.0.0.1:{self.ports.desk}"

    @property
    def monitoring_url(self) -> str:
        """Base URL of the monitoring service (`/health`, `/readyz`, `/metrics`)."""
        return f"http://127.0.0.1:{self.ports.monitoring}"

    def rasa_api(self, path: str) -> str:
        """A Rasa HTTP API URL (e.g. `/conversations/ID/tracker`); send `rasa_api_headers()` with it."""
        return f"{self.rasa_url}{path}"

    def rasa_api_headers(self) -> dict[str, str]:
        """`Authorization: Bearer <fresh JWT>` for Rasa's HTTP API."""
        return api_headers(self.rasa_jwt_secret, username="devstack")

    def rasa_call(
        self, method: str, path: str, body: Any = None, timeout: float = 30.0, replica: int = 1
    ) -> Any:
        """Call Rasa's HTTP API (of `replica`) with a fresh JWT; the JSON answer (HTTPError unless 2xx)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **self.rasa_api_headers()}
        url = f"{self.rasa_replica_url(replica)}{path}"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)

    def tracker(self, conversation_id: str, replica: int = 1) -> dict[str, Any]:
        """The conversation's tracker from Rasa's HTTP API (replicas share the tracker store)."""
        path = f"/conversations/{urllib.parse.quote(conversation_id, safe='')}/tracker"
        return self.rasa_call("GET", path, replica=replica)

    def bearer(self, name: str) -> dict[str, str]:
        """`Authorization: Bearer <the stack's secret called name>` (e.g. METRICS_TOKEN)."""
        return {"Authorization": f"Bearer {self.env[name]}"}

    def say(self, sender: str, text: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Post a message to the REST channel as `sender`; the bot's replies."""
        return send_rest(self.rasa_url, str(self.env["REST_CHANNEL_TOKEN"]), sender, text, timeout)

    @property
    def token_files(self) -> dict[str, Path]:
        """Where the generated secrets other terminals need are left, by variable."""
        return {
            "REST_CHANNEL_TOKEN": self.rest_token_file,
            "ACTION_SERVER_TOKEN": action_token_file(self.var_dir, self.ports.actions),
        }

    @property
    def rest_token_file(self) -> Path:
        """Where this stack leaves a REST token it generated, for `make shell`."""
        return rest_token_file(self.var_dir, self.ports.rasa)

    def start(self, progress: Callable[[str], None] = lambda _: None, timeout: float = START_TIMEOUT) -> None:
        """Start every service and wait until all are ready; on failure stop them and raise."""
        for service in self.services:
            if service.ready():
                self.stop()
                raise StackError(f"port of {service.name} is already in use ({service.ready_url})")
        # Monitoring reads Rasa's tracker store: it starts once Rasa (which creates its table) is ready.
        first = [service for service in self.services if service.name not in STARTED_LAST]
        for service in first:
            service.start()
        # Secrets this stack made, left for the other terminal (readable by this user only): `make shell`
        # takes the REST one, a plain `rasa shell` the action server's (bot.rasa_server.action_endpoint).
        for name, path in self.token_files.items():
            if name in self.generated:
                write_private(path, self.generated[name])
        started = time.monotonic()
        self._wait_ready(first, progress, timeout)
        last = [service for service in self.services if service.name in STARTED_LAST]
        for service in last:
            service.start()
        self._wait_ready(last, progress, max(1.0, timeout - (time.monotonic() - started)))

    def service(self, name: str) -> Service:
        """The service called `name`."""
        return next(s for s in self.services if s.name == name)

    def restart(self, name: str, timeout: float = START_TIMEOUT) -> None:
        """Stop one service and start it again (e.g. to show a restart loses nothing)."""
        service = self.service(name)
        service.stop()
        service.start()
        self._wait_ready([service], lambda _: None, timeout)

    def kill(self, names: Iterable[str] | None = None, sig: int = signal.SIGKILL) -> list[Service]:
        """Send `sig` to the named services (default: all) at once, then reap them; those that ran.

        Every signal goes out before the first wait, so with SIGKILL the processes die together, as on
        a host crash, rather than one after another.
        """
        chosen = self.services if names is None else [self.service(name) for name in names]
        signalled = [service for service in chosen if service.send_signal(sig)]
        for service in signalled:
            service.wait_exit()
        return signalled

    def revive(
        self,
        names: Iterable[str] | None = None,
        progress: Callable[[str], None] = lambda _: None,
        timeout: float = START_TIMEOUT,
    ) -> list[Service]:
        """Start again the named services (default: all) that are not running, and wait until ready.

        The counterpart of `kill`: same command, environment, secrets and log file. Raises StackError
        if a port is still taken or a service does not come up (and then stops the whole stack).
        """
        chosen = self.services if names is None else [self.service(name) for name in names]
        dead = [service for service in chosen if not service.alive()]
        for service in dead:
            if service.ready():
                self.stop()
                raise StackError(f"port of {service.name} is already in use ({service.ready_url})")
            service.start()
        self._wait_ready(list(dead), progress, timeout)
        return dead

    def _wait_ready(self, waiting: list[Service], progress: Callable[[str], None], timeout: float) -> None:
        started = time.monotonic()
        try:
            while waiting:
                for service in list(waiting):
                    if not service.alive():
                        raise StackError(f"{service.name} exited during start-up:\n{service.tail()}")
                    if service.ready():
                        waiting.remove(service)
                        since = service.started_at if service.started_at is not None else started
                        service.ready_seconds = time.monotonic() - since
                        progress(f"{service.name} ready after {service.ready_seconds:.0f} s")
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
        """Stop every service, in reverse order: monitoring first, Rasa before the action server."""
        for service in reversed(self.services):
            service.stop()
        for name, path in self.token_files.items():
            if name in self.generated:
                path.unlink(missing_ok=True)

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
