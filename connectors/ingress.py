"""`python -m connectors.ingress`: the platform webhooks alone: verified, stored in the inbox, acknowledged.

A Rasa replica both acknowledges webhooks and answers them, in one event loop; a turn is mostly CPU,
so under a burst the acknowledgements wait behind the turns (bench/ack_latency.py measures both). An
ingress process has the same channels and routes as a Rasa replica (from `credentials.yml`, with the
same secrets and limits) but no model and no inbox worker: it only stores events, in the inbox the
replicas work (Redis or PostgreSQL; with SQLite, on the same machine), so its acknowledgements stay
fast whatever the replicas are doing. Put it behind the load balancer in place of, or beside, the
replicas; the desk still sends agent replies to a replica (they need the conversations).

Only the platform channels (`WebhookChannel`) are served: the REST channel answers synchronously and
needs a model. `GET /readyz` answers 200 while every channel's inbox answers; `GET /metrics` as on a
replica. Runs in runtime A (Rasa's libraries build the channels from `credentials.yml`).
"""

from __future__ import annotations

import argparse
import logging
import os

from connectors.settings import ConnectorSettings
from connectors.webhook_channel import WebhookChannel, limit_request_size

logger = logging.getLogger(__name__)

DEFAULT_PORT = 5006


def build_app(credentials: str) -> object:
    """The Sanic app with every platform channel of `credentials`, none of them consuming."""
    from rasa.core.channels.channel import register
    from rasa.core.run import create_http_input_channels
    from sanic import Sanic

    channels = [c for c in create_http_input_channels(None, credentials) if isinstance(c, WebhookChannel)]
    if not channels:
        raise SystemExit(f"{credentials} names no platform channel (Messenger, Instagram, X)")
    for channel in channels:
        channel.consume = False
    app = Sanic("loom_ingress")
    app.ctx.loom_ingress = True
    register(channels, app, route="/webhooks/")  # the handler is never called: nothing is answered here
    limit_request_size(app, channels[0].limits.max_bytes)
    return app


def main(argv: list[str] | None = None) -> None:
    """Parse the options, build the app, serve until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--credentials", default="credentials.yml")
    config = ConnectorSettings.from_env()
    parser.add_argument("--interface", default=config.ingress_host)
    parser.add_argument("--port", type=int, default=config.ingress_port)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    app = build_app(args.credentials)
    logger.info("webhook ingress on http://%s:%d/webhooks/<channel>/webhook", args.interface, args.port)
    app.run(host=args.interface, port=args.port, workers=1, access_log=False)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
