"""rasa-sdk's action server plus `GET /metrics` (`python -m bot.action_server --actions actions`).

The same command-line options, port (5055), `/health`, `/webhook` and `/actions` as
`python -m rasa_sdk --actions actions` (rasa-sdk's own app is built by its own factory), with two
additions: every action run is counted and timed (`MeasuredExecutor`), and `GET /metrics` serves those
numbers in Prometheus' text format (behind `METRICS_TOKEN` when it is set). `--grpc` is handed to
rasa-sdk unchanged, without metrics.

Sanic runs the app in a worker process it spawns; the metrics live in that process, so with
`SANIC_WORKERS` above 1 each worker would answer with its own numbers: scale with more servers instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from functools import partial
from typing import Any

from prometheus_client import Counter, Histogram
from rasa_sdk import utils
from rasa_sdk.constants import (
    APPLICATION_ROOT_LOGGER_NAME,
    DEFAULT_ENDPOINTS_PATH,
    DEFAULT_KEEP_ALIVE_TIMEOUT,
)
from rasa_sdk.endpoint import create_app_for_serve, create_argument_parser, create_ssl_config
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import (
    ActionExecutionRejection,
    ActionMissingDomainException,
    ActionNotFoundException,
)
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.worker.loader import AppLoader

from bot.metrics import (
    CHALLENGE,
    LATENCY_BUCKETS,
    PREFIX,
    UNAUTHORIZED,
    authorized,
    exposition,
    metrics_token_from_env,
    new_registry,
)

logger = logging.getLogger(__name__)

REGISTRY = new_registry()
ACTION_RUNS = Counter(
    f"{PREFIX}action_runs",
    "Action runs by action and outcome (ok, rejected, not_found, missing_domain, error)",
    ("action", "outcome"),
    registry=REGISTRY,
)
ACTION_SECONDS = Histogram(
    f"{PREFIX}action_seconds",
    "Time to run an action, whatever its outcome",
    ("action",),
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
OUTCOMES: dict[type[Exception], str] = {
    ActionExecutionRejection: "rejected",  # a form's validation asked Rasa to try something else
    ActionNotFoundException: "not_found",
    ActionMissingDomainException: "missing_domain",  # Rasa sends the domain again
}


class MeasuredExecutor(ActionExecutor):
    """rasa-sdk's executor, counting and timing every run by action name and outcome."""

    async def run(self, action_call: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        """Run the action named in `action_call` (rasa-sdk's contract), measured."""
        name = action_call.get("next_action")
        if not name:
            return await super().run(action_call, *args, **kwargs)  # no action: nothing to measure
        label = name if name in self.actions else "unknown"  # unknown names must not grow the label set
        started, outcome = time.perf_counter(), "error"
        try:
            result = await super().run(action_call, *args, **kwargs)
            outcome = "ok"
            return result
        except Exception as err:
            outcome = next((o for kind, o in OUTCOMES.items() if isinstance(err, kind)), "error")
            raise
        finally:
            ACTION_RUNS.labels(label, outcome).inc()
            ACTION_SECONDS.labels(label).observe(time.perf_counter() - started)


def add_metrics_route(app: Sanic, token: str | None) -> None:
    """`GET /metrics` with the action metrics of this process."""

    async def metrics(request: Request) -> HTTPResponse:
        if not authorized(request.headers.get("Authorization"), token):
            return response.text(UNAUTHORIZED, status=401, headers=CHALLENGE)
        body, content_type = exposition(REGISTRY, request.headers.get("Accept"))
        return HTTPResponse(body, content_type=content_type)

    app.add_route(metrics, "/metrics", methods=["GET"], name="metrics")


def create_app(
    action_executor: ActionExecutor,
    cors_origins: str | list[str] | None = "*",
    auto_reload: bool = False,
    endpoints: str = DEFAULT_ENDPOINTS_PATH,
    keep_alive_timeout: int = DEFAULT_KEEP_ALIVE_TIMEOUT,
) -> Sanic:
    """rasa-sdk's app (as `python -m rasa_sdk` builds it in each worker) with the metrics route."""
    app = create_app_for_serve(
        action_executor,
        cors_origins=cors_origins,
        auto_reload=auto_reload,
        endpoints=endpoints,
        keep_alive_timeout=keep_alive_timeout,
    )
    add_metrics_route(app, metrics_token_from_env())
    return app


def serve(args: argparse.Namespace) -> None:
    """What `rasa_sdk.endpoint.run` does, with our app factory."""
    executor = MeasuredExecutor()
    executor.register_package(args.actions_module or args.actions)
    loader = AppLoader(
        factory=partial(
            create_app,
            executor,
            cors_origins=args.cors,
            auto_reload=args.auto_reload,
            endpoints=args.endpoints,
        )
    )
    app = loader.load()
    ssl = create_ssl_config(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    host = os.environ.get("SANIC_HOST", "0.0.0.0")
    logger.info("action server with /metrics on %s://%s:%s", "https" if ssl else "http", host, args.port)
    app.prepare(host=host, port=args.port, ssl=ssl, workers=utils.number_of_sanic_workers())
    Sanic.serve(primary=app, app_loader=loader)


def main(argv: list[str] | None = None) -> None:
    """Parse rasa-sdk's options and serve."""
    args = create_argument_parser().parse_args(argv)
    if args.grpc:
        from rasa_sdk.__main__ import main_from_args

        logger.warning("gRPC mode: served by rasa-sdk as is, without /metrics")
        main_from_args(args)
        return
    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME),
        args.log_file,
        args.loglevel,
        args.logging_config_file,
    )
    utils.update_sanic_log_level()
    serve(args)
