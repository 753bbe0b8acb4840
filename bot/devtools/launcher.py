"""`make run`: prepare the database, start every service, say what runs where, stop cleanly.

Fails closed: a partial real platform setup (some META_* / X_* variables, not all) stops here with the
list of what is missing, before anything starts (`bot.devtools.devstack.platform_env`).

One at a time per `VAR_DIR`: the launcher holds a lock on `$VAR_DIR/run/make-run.lock` for as long as it
runs (the kernel drops it when the process ends, however it ends, so a killed run never blocks the next),
and a second one says who holds it; `--check` only asks, for the Makefile before it installs anything.

While it runs, a `make train` elsewhere that repoints models/current.tar.gz has its model checked and
loaded into the running Rasa server without a restart (bot/devtools/model_watch.py).

Stopping: the first SIGINT, SIGTERM or SIGHUP stops every service in order (monitoring first, Rasa before
the action server, each with its grace period); signals that arrive meanwhile (a supervisor signalling
the whole process group while make passes its SIGTERM on, a second Ctrl-C) do not cut the stop short.
On Linux the kernel sends the launcher SIGTERM when its parent (make) dies, and each service SIGTERM
when the launcher dies, even by SIGKILL (devstack.parent_death_signal): nothing is left holding a port.

Set-up: each step says what it does and how much (migrations, demo data, the catalogue index, with its
progress by tenths, each service's start); at the end, a table of where the time went, with the make
steps before the launcher that the Makefile writes to `$VAR_DIR/run/setup-times.tsv` (lines of a step
name, a tab, its seconds; truncated when `make run` starts, so a file older than the make that started
this launcher is from another run and left out).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from sqlalchemy.engine import make_url

from bot.catalog.indexing import build, up_to_date
from bot.desk.demo import ensure_demo_accounts
from bot.devtools.devstack import (
    STARTED_LAST,
    ConfigurationError,
    Stack,
    StackError,
    follow_parent,
    var_dir,
)
from bot.devtools.model_watch import ModelWatcher, follow
from bot.settings import Settings
from bot.storage import migrate
from bot.storage.db import create_sync_engine
from bot.storage.seed import SeedReport, seed

LOCK_FILE = "make-run.lock"
SETUP_TIMES = "setup-times.tsv"
LOCK_PATIENCE = 1.0  # a `--check` holds the lock for an instant; a running stack for good
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PORT_VARIABLE = {"ACTION_ENDPOINT_URL": "ACTION_PORT", "RASA_URL": "RASA_PORT"}
SEED_SHOWN = ("products", "orders", "images")
Steps = list[tuple[str, float, str]]  # step, seconds, what it did


def say(line: str = "") -> None:
    """Print now; a closed terminal or pipe must not stop the launcher from stopping its services."""
    with suppress(OSError):
        print(line, flush=True)


@contextmanager
def timed(steps: Steps | None, name: str, detail: Callable[[], str] = lambda: "") -> Iterator[None]:
    """Append (name, seconds, detail()) to `steps` once the block has run."""
    started = time.monotonic()
    yield
    if steps is not None:
        steps.append((name, time.monotonic() - started, detail()))


def pending_migrations(database_url: str) -> int:
    """How many migrations `migrate.upgrade` is about to apply."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config(database_url))
    engine = create_sync_engine(database_url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    applied = {rev.revision for rev in script.iterate_revisions(current, "base")} if current else set()
    return sum(1 for rev in script.walk_revisions() if rev.revision not in applied)


def seeded(report: SeedReport) -> str:
    """The seed's main counts, for the set-up table."""
    counts = [f"{count} {name}" for name, count in vars(report).items() if count and name in SEED_SHOWN]
    return ", ".join(counts) + " added" if counts else "nothing new"


def prepare_database(
    settings: Settings, progress: Callable[[str], None] = lambda _: None, steps: Steps | None = None
) -> str:
    """Migrate the schema, add missing demo data, bring the catalogue index up to date; a summary.

    `progress` hears each step as it goes; `steps` gets (step, seconds, what it did) for each.
    """
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    pending = pending_migrations(settings.database_url)
    progress(
        f"migrate: {pending} migration(s) to apply to {database} ..." if pending else "migrate: up to date"
    )
    with timed(steps, "migrate", lambda: f"{pending} applied"):
        migrate.upgrade(settings.database_url)
    engine = create_sync_engine(settings.database_url)
    try:
        progress("seed: adding the demo data that is missing ...")
        with timed(steps, "seed", lambda: seeded(report)):
            report = seed(
                engine, catalog_dir=settings.catalog_dir, progress=lambda line: progress(f"  {line}")
            )
        progress(f"seed: {report}")
        with timed(steps, "index", lambda: indexed):
            indexed = "up to date"
            if up_to_date(engine, settings.catalog_dir):
                progress("index: the catalogue index is up to date")
            else:
                progress("index: loading the image and text encoders ...")
                from bot.catalog.encoders import image_encoder, text_encoder

                encoders = image_encoder(), text_encoder()
                progress("index: embedding the catalogue photos and texts (only what changed) ...")
                built = build(engine, settings.catalog_dir, *encoders, lambda line: progress(f"  {line}"))
                progress(f"index: {built}")
                indexed = (
                    f"{built.images_embedded} image views, {built.features_extracted} photos' features, "
                    f"{built.texts_embedded} texts"
                )
    finally:
        engine.dispose()
    return f"schema up to date; demo data: {report}"


@dataclass(frozen=True)
class Holder:
    """Who holds the run lock, as its lock file says."""

    pid: int
    started: float  # seconds since the epoch
    what: str

    def message(self) -> str:
        """The plain answer to a second `make run`."""
        day = time.localtime(self.started)
        at = time.strftime("%H:%M" if day[:3] == time.localtime()[:3] else "%Y-%m-%d %H:%M", day)
        return (
            f"{self.what} is already running (pid {self.pid}, started {at}; "
            f"stop it with Ctrl-C there or `kill {self.pid}`)"
        )


class AlreadyRunning(StackError):
    """Another launcher holds this VAR_DIR's run lock."""

    def __init__(self, holder: Holder | None, path: Path) -> None:
        self.holder = holder
        super().__init__(holder.message() if holder else f"make run is already running (it holds {path})")


def lock_path(state_dir: Path) -> Path:
    """The run lock of a VAR_DIR."""
    return state_dir / "run" / LOCK_FILE


def read_holder(file: TextIO) -> Holder | None:
    """The pid, start time and name a lock file holds; None while it is being written."""
    file.seek(0)
    try:
        pid, started, what = file.read().strip().split(" ", 2)
        return Holder(int(pid), float(started), what)
    except ValueError:
        return None


def hold_run_lock(state_dir: Path, what: str = "make run", patience: float = LOCK_PATIENCE) -> TextIO:
    """Take the VAR_DIR's run lock until the returned file is closed (or the process ends).

    AlreadyRunning if another process keeps it for `patience` seconds. The file descriptor is not
    inherited by the services, so only this process holds it.
    """
    path = lock_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    file = path.open("a+")
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = read_holder(file)
                file.close()
                raise AlreadyRunning(holder, path) from None
            time.sleep(0.05)
    file.seek(0)
    file.truncate()
    file.write(f"{os.getpid()} {time.time():.3f} {what}\n")
    file.flush()
    return file


def running(state_dir: Path) -> Holder | AlreadyRunning | None:
    """Whether a launcher holds the VAR_DIR's run lock (the error to show), or None."""
    try:
        hold_run_lock(state_dir, "a check", patience=0.0).close()
    except AlreadyRunning as err:
        return err
    return None


class Stopper:
    """Signal handler: the first stop signal interrupts what runs (KeyboardInterrupt), later ones do not."""

    def __init__(self) -> None:
        self.stopping = False

    def install(self) -> Stopper:
        """Handle the stop signals (explicitly: one started in the background inherits SIGINT ignored).

        A SIGHUP ignored on purpose (`nohup make run`) stays ignored.
        """
        for sig in STOP_SIGNALS:
            if sig != signal.SIGHUP or signal.getsignal(sig) != signal.SIG_IGN:
                signal.signal(sig, self)
        return self

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        """Interrupt the main thread the first time; only say so after that."""
        if self.stopping:
            # os.write, not print: this may run inside a print of the main thread (a reentrant call)
            with suppress(OSError):
                os.write(2, f"({signal.Signals(signum).name}: already stopping, in order)\n".encode())
            return
        self.stopping = True
        raise KeyboardInterrupt


def make_started_at(proc: Path = Path("/proc")) -> float | None:
    """When the `make` above this process started (seconds since the epoch), from /proc; None without one."""
    try:
        boot = next(
            float(line.split()[1])
            for line in (proc / "stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        pid = os.getppid()
        for _ in range(4):  # make, or a shell make started for the recipe, or a wrapper around it
            stat = (proc / str(pid) / "stat").read_text()
            name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
            if name in ("make", "gmake"):
                return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime
            pid = int(fields[1])  # field 4, ppid
            if pid <= 1:
                return None
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return None


def make_steps(state_dir: Path, since: float | None) -> Steps:
    """The make steps of `setup-times.tsv`, if written since `since` (None: there is no make to trust)."""
    path = state_dir / "run" / SETUP_TIMES
    try:
        if since is None or path.stat().st_mtime < since - 1.0:  # /proc's boot time is in whole seconds
            return []
        lines = path.read_text().splitlines()
    except OSError:
        return []
    steps: Steps = []
    for line in lines:
        name, _, seconds = line.rpartition("\t")
        try:
            steps.append((name.strip(), float(seconds), "make"))
        except ValueError:
            continue
    return [step for step in steps if step[0]]


def duration(seconds: float) -> str:
    """`2 min 05 s` or `7.3 s`."""
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s" if seconds >= 60 else f"{seconds:.1f} s"


def setup_table(steps: Steps, stack: Stack, started_seconds: float, total: float) -> str:
    """Where the set-up went: the make steps, the launcher's, and the services (side by side)."""

    def ready(names: Callable[[str], bool]) -> str:
        chosen = [s for s in stack.services if s.ready_seconds is not None and names(s.name)]
        return ", ".join(
            f"{s.name} {s.ready_seconds:.1f}" for s in sorted(chosen, key=lambda s: -(s.ready_seconds or 0))
        )

    services = f"side by side, seconds to ready: {ready(lambda name: name not in STARTED_LAST)}"
    if last := ready(lambda name: name in STARTED_LAST):
        services += f"; then {last}"
    rows = [*steps, ("start services", started_seconds, services)]
    width = max(len(name) for name, _, _ in rows)
    lines = [f"Set-up took {duration(total)}:"]
    lines += [f"  {name:<{width}}  {seconds:7.1f} s  {detail}".rstrip() for name, seconds, detail in rows]
    return "\n".join(lines)


def banner(stack: Stack, settings: Settings, demo_accounts: dict[str, str] | None = None) -> str:
    """What runs where."""
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    rasa = stack.service("rasa")
    graph_api = stack.env.get("META_GRAPH_API_URL") or ""
    meta = "the simulator" if graph_api.startswith(stack.simulator_url) else graph_api or "Meta's default"
    x_url = stack.env.get("X_API_URL") or ""
    x_api = "the simulator" if x_url.startswith(stack.simulator_url) else x_url or "X's default"
    monitoring = (
        [f"  Monitoring       {stack.monitoring_url}/readyz  (recording, moderation, alerts)"]
        if any(service.name == "monitoring" for service in stack.services)
        else []
    )
    simulator = [f"  Customer simulator  {stack.simulator_url}/  (a customer on Messenger, Instagram or X)"]
    lines = [
        "",
        "Loom & Co. support bot is running:",
        *(simulator if stack.simulator else []),
        f"  Rasa server      {stack.rasa_url}  (REST channel: POST {stack.rasa_url}/webhooks/rest/webhook,"
        " bearer REST_CHANNEL_TOKEN)",
        f"  Webhooks         {stack.rasa_url}/webhooks/messenger/webhook, .../instagram/webhook",
        f"  Meta Send API    {meta}",
        f"  X API            {x_api}  (webhook {stack.rasa_url}/webhooks/twitter/webhook)",
        f"  Action server    http://127.0.0.1:{stack.ports.actions}/webhook",
        f"  Agent desk       {stack.desk_url}/",
        *monitoring,
        f"  Database         {database}",
        f"  Redis            {settings.redis_url or 'not configured (in-process locks)'}",
        f"  Logs             {rasa.log_path.parent}/",
    ]
    for username, password in (demo_accounts or {}).items():
        lines.append(f"  Desk sign-in     {username} / {password}")
    where = f"open {stack.simulator_url}/ or run" if stack.simulator else "run"
    lines += [
        "",
        f"Talk to it: {where} `make shell` in another terminal. Stop: Ctrl-C (or `kill {os.getpid()}`).",
    ]
    return "\n".join(lines)


def overridden_notes(stack: Stack) -> list[str]:
    """One line for each address the environment set and the stack replaced with its own."""
    return [
        f"note: {name}={inherited} from the environment is not used: make run starts that service "
        f"itself and uses {used} (set {PORT_VARIABLE.get(name, 'its port')} to move it)"
        for name, (inherited, used) in stack.overridden.items()
    ]


def main(argv: list[str] | None = None) -> None:
    """Run until a stop signal, until make dies, or until a service dies."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.devtools.launcher", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="only say whether make run runs here already")
    args = parser.parse_args(argv)
    began = time.monotonic()
    state_dir = var_dir(os.environ)
    if args.check:
        if (busy := running(state_dir)) is not None:
            sys.exit(str(busy))
        return
    try:
        lock = hold_run_lock(state_dir)
    except AlreadyRunning as err:
        sys.exit(str(err))
    stopper = Stopper().install()
    parent_gone = follow_parent()
    try:
        stack = Stack()
    except ConfigurationError as err:
        sys.exit(f"configuration: {err}")
    for note in overridden_notes(stack):
        say(note)
    settings = Settings.from_env()
    made, steps = make_steps(state_dir, make_started_at()), []
    try:
        prepare_database(settings, progress=say, steps=steps)
        with timed(steps, "desk accounts", lambda: ", ".join(demo_accounts) or "none to show"):
            demo_accounts = ensure_demo_accounts(settings, note=say)
        say(f"starting {', '.join(s.name for s in stack.services)} (Rasa takes about a minute) ...")
        starting = time.monotonic()
        watcher = ModelWatcher(stack.model)  # before Rasa reads it; `make train` elsewhere is swapped in
        stack.start(progress=lambda line: say(f"  {line}"))
        started = time.monotonic() - starting
        say(banner(stack, settings, demo_accounts))
        total = sum(seconds for _, seconds, _ in made) + time.monotonic() - began
        say(f"\n{setup_table([*made, *steps], stack, started, total)}")
        while not stack.dead() and not parent_gone():
            follow(watcher, stack, say)
            time.sleep(1)
        if not stack.dead():
            say("\nthe make that started this has gone: stopping ...")
        else:
            for service in stack.dead():
                say(f"\n{service.name} stopped unexpectedly; end of {service.log_path}:\n{service.tail()}")
            sys.exit(1)
    except StackError as err:
        sys.exit(f"could not start: {err}")
    except KeyboardInterrupt:
        say("\nstopping ...")
    finally:
        stopper.stopping = True  # from here on a signal only says so
        stack.stop()
        lock.close()
    say("stopped.")


if __name__ == "__main__":
    main()
