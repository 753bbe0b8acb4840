"""`python -m bot.monitoring`: the monitoring service (bot/monitoring/service.py)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging

from bot.config_files import ConfigFileError
from bot.monitoring.service import ServiceConfig, serve
from bot.settings import ConfigError, fail_clearly


def main(argv: list[str] | None = None) -> None:
    """Run until SIGTERM (exit 0)."""
    try:
        config = ServiceConfig.from_env()
    except (ConfigError, ConfigFileError) as err:
        raise fail_clearly(err, "monitoring") from None
    parser = argparse.ArgumentParser(prog="python -m bot.monitoring", description="the monitoring service")
    parser.add_argument("--port", type=int, default=config.port)
    parser.add_argument("--host", default=config.host)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(dataclasses.replace(config, host=args.host, port=args.port)))


if __name__ == "__main__":
    main()
