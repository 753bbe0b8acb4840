"""`python -m bot.desk`: serve the agent desk."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from bot.config_files import ConfigFileError
from bot.desk.app import create_app
from bot.desk.config import DeskConfig
from bot.settings import ConfigError, fail_clearly

# After SIGTERM, requests in progress get this long (aiohttp's default is 60 s); open event streams end
# at once (bot.desk.app). Compose and Kubernetes in deploy/ wait 30 s before they SIGKILL.
SHUTDOWN_SECONDS = 15.0


def main(argv: list[str] | None = None) -> None:
    """Serve until stopped."""
    try:
        config = DeskConfig.from_env()
    except (ConfigError, ConfigFileError) as err:
        raise fail_clearly(err, "desk") from None
    parser = argparse.ArgumentParser(prog="python -m bot.desk", description="the agent desk")
    parser.add_argument("--port", type=int, default=config.port)
    parser.add_argument("--host", default=config.host)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    web.run_app(
        create_app(config), host=args.host, port=args.port, print=None, shutdown_timeout=SHUTDOWN_SECONDS
    )


if __name__ == "__main__":
    main()
