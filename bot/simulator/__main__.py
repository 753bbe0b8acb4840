"""`python -m bot.simulator [--host 127.0.0.1] [--port 5080]`: run the fake Meta and X APIs and the page."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from bot.simulator.app import create_app
from bot.simulator.config import DEFAULT_PORT, SimulatorConfig


def main(argv: list[str] | None = None) -> None:
    """Read the environment, print where things are, serve until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m bot.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = SimulatorConfig.from_env(port=args.port)
    print(
        f"Meta simulator: customer page {config.public_url}/ ; "
        f"Send API {config.public_url}/v21.0/me/messages ; "
        f"X API {config.x_api_url(config.public_url or '')} ; "
        f"webhooks go to {config.webhook_url('messenger')}, {config.webhook_url('instagram')} "
        f"and {config.webhook_url('twitter')}",
        flush=True,
    )
    web.run_app(create_app(config), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
