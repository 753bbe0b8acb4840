"""The `bot` command: database set-up for now; catalogue and agent tools join it later."""

from __future__ import annotations

import argparse
import logging
import sys

from bot.settings import Settings


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> None:
    from bot.storage import migrate

    migrate.upgrade(settings.database_url, args.revision)
    print(f"database schema at {args.revision}: {_display(settings.database_url)}")


def _db_downgrade(settings: Settings, args: argparse.Namespace) -> None:
    from bot.storage import migrate

    migrate.downgrade(settings.database_url, args.revision)
    print(f"database schema at {args.revision}: {_display(settings.database_url)}")


def _db_seed(settings: Settings, args: argparse.Namespace) -> None:
    from bot.storage.db import create_sync_engine
    from bot.storage.seed import seed

    engine = create_sync_engine(settings.database_url)
    try:
        report = seed(engine, reset=args.reset)
    finally:
        engine.dispose()
    print(f"demo data added: {report}")


def _db_revision(settings: Settings, args: argparse.Namespace) -> None:
    from bot.storage import migrate

    migrate.revision(settings.database_url, args.message)


def _display(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="bot", description="Loom & Co. support bot tools.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="database schema and demo data (DATABASE_URL, default SQLite)")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(handler=_db_upgrade)
    downgrade = db_commands.add_parser("downgrade", help="revert migrations (default: all)")
    downgrade.add_argument("revision", nargs="?", default="base")
    downgrade.set_defaults(handler=_db_downgrade)
    seed = db_commands.add_parser("seed", help="add the demo catalogue, stores, customers and orders")
    seed.add_argument("--reset", action="store_true", help="re-create demo orders with fresh dates")
    seed.set_defaults(handler=_db_seed)
    revision = db_commands.add_parser("revision", help="write a migration from model changes")
    revision.add_argument("-m", "--message", required=True)
    revision.set_defaults(handler=_db_revision)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `bot` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    settings = Settings.from_env()
    try:
        args.handler(settings, args)
    except Exception as err:  # the outermost boundary: one clear line, the stack only with -v
        logging.getLogger("bot").debug("command failed", exc_info=True)
        sys.exit(f"bot: {type(err).__name__}: {err}")


if __name__ == "__main__":
    main()
