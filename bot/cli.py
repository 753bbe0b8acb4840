"""The `bot` command: database, catalogue, desk-account and customer-identity tools."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.desk.accounts import ROLES
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.storage.db import Database

T = TypeVar("T")


def _with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` on the configured database, opened for it and closed afterwards."""
    import asyncio

    from bot.storage.db import Database

    async def run() -> T:
        database = Database(settings.database_url)
        try:
            return await work(database)
        finally:
            await database.close()

    return asyncio.run(run())


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
        report = seed(engine, reset=args.reset, catalog_dir=settings.catalog_dir)
    finally:
        engine.dispose()
    print(f"demo data added: {report}")


def _db_revision(settings: Settings, args: argparse.Namespace) -> None:
    from bot.storage import migrate

    migrate.revision(settings.database_url, args.message)


def _catalog_import(settings: Settings, args: argparse.Namespace) -> None:
    from bot.catalog.fetch import FetchPolicy
    from bot.catalog.importer import run_import
    from bot.storage.db import create_sync_engine

    engine = create_sync_engine(settings.database_url)
    policy = FetchPolicy(allowed_hosts=tuple(args.allow_host))
    print(f"importing {args.file} ...")
    try:
        report = run_import(Path(args.file), engine, settings.catalog_dir, policy)
    finally:
        engine.dispose()
    print(f"catalogue import: {report}")
    if report.errors:
        sys.exit(f"{len(report.errors)} rows were not imported (see above)")


def _catalog_index(settings: Settings, args: argparse.Namespace) -> None:
    from bot.catalog.encoders import image_encoder, text_encoder
    from bot.catalog.indexing import build, up_to_date
    from bot.storage.db import create_sync_engine

    engine = create_sync_engine(settings.database_url)
    try:
        if not args.force and up_to_date(engine, settings.catalog_dir):
            print("catalogue index is up to date")
            return
        print("loading the image and text encoders ...", flush=True)
        report = build(
            engine,
            settings.catalog_dir,
            image_encoder(),
            text_encoder(),
            progress=lambda line: print(f"  {line}", flush=True),
        )
    finally:
        engine.dispose()
    print(f"catalogue index: {report}")


def _catalog_search(settings: Settings, args: argparse.Namespace) -> None:
    import json

    from bot.catalog.product_search import ProductSearch

    async def run(database: Database) -> list[dict]:
        search = ProductSearch(settings, database)
        if args.image:
            from bot.catalog.fetch import FetchPolicy, decode

            image = decode(Path(args.image).read_bytes(), FetchPolicy())
            results = await search.photo(image, limit=args.limit)
        else:
            results = await search.text(args.text, limit=args.limit)
        lines = []
        for r in results:
            line = {"product_id": r.product.id, "title": r.product.title, "score": round(r.score, 4)}
            if r.confidence is not None:  # a photo: its verification and how sure search is
                line.update(inliers=r.inliers, confidence=round(r.confidence, 4))
            lines.append(line)
        return lines

    for line in _with_database(settings, run):
        print(json.dumps(line))


def _catalog_logo_photo(_: Settings, args: argparse.Namespace) -> None:
    import random

    from bot.catalog.demo_images import load_base
    from bot.catalog.demo_logo import draw_logo, logo_in_scene

    scene = load_base(("coffee", "chelsea", "rocket", "astronaut")[args.seed % 4])
    logo_in_scene(draw_logo(), scene, random.Random(args.seed)).save(args.out, "JPEG", quality=85)
    print(f"wrote {args.out}: the demo logo in a photo; send it with the simulator's 📷 button")


def _agents_add(settings: Settings, args: argparse.Namespace) -> None:
    import getpass

    from bot.desk.accounts import Accounts
    from bot.desk.config import Lockout

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            sys.exit("bot: the two passwords differ; nothing was created")

    async def run(database: Database) -> str:
        agent = await Accounts(database, Lockout()).add(
            args.username, args.name or "", password, args.role, languages=args.languages
        )
        return (
            f"{agent.role} {agent.username} ({agent.display_name}, speaks {agent.languages})"
            " can now sign in to the desk"
        )

    print(_with_database(settings, run))


def _agents_list(settings: Settings, args: argparse.Namespace) -> None:
    from sqlalchemy import select

    from bot.storage.models import Agent

    async def run(database: Database) -> list[Agent]:
        async with database.sessions() as session:
            return list(await session.scalars(select(Agent).order_by(Agent.username)))

    for agent in _with_database(settings, run):
        state = "active" if agent.active else "inactive"
        capacity = "default" if agent.capacity is None else agent.capacity
        channels = agent.channels or "all"
        print(
            f"{agent.username}\t{agent.role}\t{state}\t{agent.languages}\t{agent.display_name}\t"
            f"channels {channels}\tcapacity {capacity}"
        )


def _agents_languages(settings: Settings, args: argparse.Namespace) -> None:
    from bot.desk.accounts import Accounts
    from bot.desk.config import Lockout

    async def run(database: Database) -> str:
        agent = await Accounts(database, Lockout()).set_languages(args.username, args.languages)
        return f"{agent.username} now answers in {agent.languages}"

    print(_with_database(settings, run))


def _agents_capacity(settings: Settings, args: argparse.Namespace) -> None:
    from bot.desk.accounts import Accounts
    from bot.desk.config import Lockout

    value = args.capacity.strip().lower()
    if value != "default" and not value.isdigit():
        sys.exit("bot: a capacity is a whole number of conversations, or `default` (desk.yml's)")
    capacity = None if value == "default" else int(value)

    async def run(database: Database) -> str:
        agent = await Accounts(database, Lockout()).set_capacity(args.username, capacity)
        if agent.capacity is None:
            return f"{agent.username} takes desk.yml's number of conversations at once (supervisors: none)"
        if agent.capacity == 0:
            return f"{agent.username} is given no conversations automatically (claims by hand only)"
        return f"{agent.username} is given up to {agent.capacity} conversations at once"

    print(_with_database(settings, run))


def _agents_channels(settings: Settings, args: argparse.Namespace) -> None:
    from bot.desk.accounts import Accounts
    from bot.desk.config import Lockout

    async def run(database: Database) -> str:
        agent = await Accounts(database, Lockout()).set_channels(args.username, args.channels)
        return f"{agent.username} is given conversations from {agent.channels or 'every channel'}"

    print(_with_database(settings, run))


def _customers_link(settings: Settings, args: argparse.Namespace) -> None:
    from bot.shop.order_access import OrderAccess

    async def run(database: Database) -> str:
        customer = await OrderAccess(database).link(args.channel, args.user_id, args.email)
        return f"{args.channel} user {args.user_id} now sees the orders of {customer.email}"

    print(_with_database(settings, run))


def _customers_unlink(settings: Settings, args: argparse.Namespace) -> None:
    from bot.shop.order_access import OrderAccess

    async def run(database: Database) -> bool:
        return await OrderAccess(database).unlink(args.channel, args.user_id)

    if not _with_database(settings, run):
        sys.exit(f"bot: {args.channel} user {args.user_id} was not linked to anyone")
    print(f"{args.channel} user {args.user_id} is no longer linked: orders need their e-mail or postcode")


def _nlu_check(_: Settings, args: argparse.Namespace) -> None:
    """Run scripts/nlu_check.py in runtime A (it imports Rasa), streaming its output; exit with its code."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    python = root / ".venv-rasa" / "bin" / "python"
    if not python.exists():
        sys.exit(f"bot: runtime A ({python}) is not installed: run make install")
    command = [str(python), str(root / "scripts" / "nlu_check.py")]
    for option in ("baseline", "config", "data", "heldout", "out", "work"):
        if getattr(args, option) is not None:  # paths as the user meant them, from where they typed them
            command += [f"--{option}", str(Path(getattr(args, option)).absolute())]
    if args.min_f1 is not None:
        command += ["--min-f1", str(args.min_f1)]
    command += ["--force"] if args.force else []
    command += ["--fallback-is-wrong"] if args.fallback_is_wrong else []
    command += ["--verbose"] if args.verbose else []
    try:  # cwd: config.yml names the sentence encoder relative to the project
        code = subprocess.run(command, cwd=root).returncode
    except KeyboardInterrupt:  # the check had the Ctrl-C too, and said so
        code = 130
    sys.exit(code)


def _model_swap(_: Settings, args: argparse.Namespace) -> None:
    import os

    from bot.content.model_swap import swap
    from bot.conversations.api_auth import api_headers, jwt_secret_from_env

    secret = jwt_secret_from_env()
    if not secret:
        sys.exit("bot: set RASA_JWT_SECRET, the secret of the Rasa servers' HTTP API")
    urls = args.rasa_url or [os.environ.get("RASA_URL") or "http://127.0.0.1:5005"]
    report = swap(Path(args.path), urls, lambda: api_headers(secret, "bot-model-swap"), gate=not args.no_gate)
    print("\n".join(report.lines()))
    if not report.ok:
        sys.exit(1)


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

    catalog = commands.add_parser("catalog", help="the product catalogue: import, index, search")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True)
    importer = catalog_commands.add_parser("import", help="load products and photos from a CSV or JSON file")
    importer.add_argument("file")
    importer.add_argument(
        "--allow-host", action="append", default=[], help="host whose image URLs may be fetched (repeatable)"
    )
    importer.set_defaults(handler=_catalog_import)
    index = catalog_commands.add_parser("index", help="embed product photos and texts (only what changed)")
    index.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    index.set_defaults(handler=_catalog_index)
    search = catalog_commands.add_parser("search", help="print the best matches as JSON lines")
    query = search.add_mutually_exclusive_group(required=True)
    query.add_argument("--image", help="path of a photo")
    query.add_argument("--text", help='e.g. "blue linen shirt size M"')
    search.add_argument("--limit", type=int, default=5)
    search.set_defaults(handler=_catalog_search)
    logo = catalog_commands.add_parser(
        "logo-photo", help="write a photo showing the demo brand's logo (to send in the simulator)"
    )
    logo.add_argument("out", type=Path, help="the JPEG to write, e.g. /tmp/logo.jpg")
    logo.add_argument("--seed", type=int, default=1, help="another seed: another scene and angle")
    logo.set_defaults(handler=_catalog_logo_photo)

    agents = commands.add_parser("agents", help="desk accounts for agents, supervisors and content editors")
    agents_commands = agents.add_subparsers(dest="agents_command", required=True)
    add = agents_commands.add_parser("add", help="create an account (asks for the password)")
    add.add_argument("username")
    add.add_argument("--name", help="display name (default: the username)")
    add.add_argument(
        "--role", choices=ROLES, default="agent", help="editor: the review queue only, no conversations"
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument(
        "--languages", default="en", help="languages they answer customers in, ISO 639-1 codes (default: en)"
    )
    add.set_defaults(handler=_agents_add)
    languages = agents_commands.add_parser("languages", help="set the languages someone answers customers in")
    languages.add_argument("username")
    languages.add_argument("languages", help="ISO 639-1 codes, comma-separated: en,es")
    languages.set_defaults(handler=_agents_languages)
    capacity = agents_commands.add_parser(
        "capacity", help="how many conversations the desk assigns someone at once (0: none)"
    )
    capacity.add_argument("username")
    capacity.add_argument("capacity", help="a number, or `default` for desk.yml's assignment.capacity")
    capacity.set_defaults(handler=_agents_capacity)
    channels = agents_commands.add_parser("channels", help="the channels the desk assigns someone")
    channels.add_argument("username")
    channels.add_argument("channels", help="messenger,instagram,twitter (comma-separated), or `all`")
    channels.set_defaults(handler=_agents_channels)
    listing = agents_commands.add_parser("list", help="every account")
    listing.set_defaults(handler=_agents_list)

    customers = commands.add_parser("customers", help="platform users linked to customers (see their orders)")
    customers_commands = customers.add_subparsers(dest="customers_command", required=True)
    link = customers_commands.add_parser(
        "link", help="let a platform user see a customer's orders without their e-mail or postcode"
    )
    link.add_argument("channel", help="messenger, instagram or twitter (Rasa's input channel)")
    link.add_argument("user_id", help="the platform's user id (Messenger PSID, Instagram id, X user id)")
    link.add_argument("email", help="the customer's e-mail address")
    link.set_defaults(handler=_customers_link)
    unlink = customers_commands.add_parser("unlink", help="remove a platform user's link")
    unlink.add_argument("channel", help="messenger, instagram or twitter")
    unlink.add_argument("user_id")
    unlink.set_defaults(handler=_customers_unlink)

    nlu = commands.add_parser("nlu", help="the NLU model and its data (content editors)")
    nlu_commands = nlu.add_subparsers(dest="nlu_command", required=True)
    summary = (
        "regression report of changed NLU data: per-intent F1 before and after on the held-out set, the "
        "examples read differently, safe to ship or why not (exit 0 safe, 1 not safe, 2 error)"
    )
    check = nlu_commands.add_parser("check", help=summary, description=summary)
    check.add_argument("--baseline", help="the model now served (default models/current.tar.gz)")
    check.add_argument("--config", help="default config.yml")
    check.add_argument("--data", help="the changed training data (default data/)")
    check.add_argument("--heldout", help="held-out examples, never trained on (default tests/nlu)")
    check.add_argument("--out", help="where report.json and report.md go (default results/nlu_check)")
    check.add_argument("--work", help="where the candidate model is trained (default $VAR_DIR/nlu-check)")
    check.add_argument("--min-f1", type=float, help="the macro-F1 gate (default 0.93)")
    check.add_argument("--force", action="store_true", help="train even when the inputs are the baseline's")
    check.add_argument("--fallback-is-wrong", action="store_true", help="score nlu_fallback as wrong")
    check.set_defaults(handler=_nlu_check)

    model = commands.add_parser("model", help="the trained model in the running Rasa servers")
    model_commands = model.add_subparsers(dest="model_command", required=True)
    swap = model_commands.add_parser(
        "swap", help="NLU gate, then load the model into each Rasa server in turn, without a restart"
    )
    swap.add_argument("path", nargs="?", default="models/current.tar.gz", help="(default %(default)s)")
    swap.add_argument("--rasa-url", action="append", help="a Rasa server, once each (default $RASA_URL)")
    swap.add_argument("--no-gate", action="store_true", help="load without the NLU gate (make test-nlu's)")
    swap.set_defaults(handler=_model_swap)
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
