"""`make run`: prepare the database, start every service, say what runs where, stop cleanly on Ctrl-C.

Fails closed: a partial real platform setup (some META_* / X_* variables, not all) stops here with the
list of what is missing, before anything starts (`bot.devtools.devstack.platform_env`).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

from sqlalchemy.engine import make_url

from bot.catalog.indexing import build, up_to_date
from bot.desk.demo import ensure_demo_accounts
from bot.devtools.devstack import ConfigurationError, Stack, StackError
from bot.settings import Settings
from bot.storage import migrate
from bot.storage.db import create_sync_engine
from bot.storage.seed import seed


def prepare_database(settings: Settings, progress: Callable[[str], None] = lambda _: None) -> str:
    """Migrate the schema, add missing demo data, bring the catalogue index up to date; a summary."""
    migrate.upgrade(settings.database_url)
    engine = create_sync_engine(settings.database_url)
    try:
        report = seed(engine, catalog_dir=settings.catalog_dir)
        if not up_to_date(engine, settings.catalog_dir):
            progress("indexing the catalogue photos and texts ...")
            from bot.catalog.encoders import image_encoder, text_encoder

            indexed = build(engine, settings.catalog_dir, image_encoder(), text_encoder())
            progress(f"catalogue index: {indexed}")
    finally:
        engine.dispose()
    return f"schema up to date; demo data: {report}"


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
    lines += ["", f"Talk to it: {where} `make shell` in another terminal. Stop: Ctrl-C."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run until Ctrl-C or until a service dies."""
    argparse.ArgumentParser(prog="python -m bot.devtools.launcher", description=__doc__).parse_args(argv)
    try:
        stack = Stack()
    except ConfigurationError as err:
        sys.exit(f"configuration: {err}")
    settings = Settings.from_env()
    print(
        f"database: {prepare_database(settings, progress=lambda line: print(line, flush=True))}", flush=True
    )
    demo_accounts = ensure_demo_accounts(settings)

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a process started in the background may inherit SIGINT as ignored.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(
        f"starting {', '.join(s.name for s in stack.services)} (Rasa takes about a minute) ...",
        flush=True,
    )
    try:
        stack.start(progress=lambda line: print(f"  {line}", flush=True))
        print(banner(stack, settings, demo_accounts), flush=True)
        while not stack.dead():
            time.sleep(1)
        for service in stack.dead():
            print(f"\n{service.name} stopped unexpectedly; end of {service.log_path}:\n{service.tail()}")
        sys.exit(1)
    except StackError as err:
        sys.exit(f"could not start: {err}")
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    finally:
        stack.stop()
    print("stopped.")


if __name__ == "__main__":
    main()
