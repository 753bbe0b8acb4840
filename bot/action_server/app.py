"""rasa-sdk's action server plus `GET /metrics` (`python -m bot.action_server --actions actions`).

The same command-line options, port (5055), `/health`, `/webhook` and `/actions` as
`python -m rasa_sdk --actions actions` (rasa-sdk's own app is built by its own factory), with these
differences:
- it listens on 127.0.0.1 unless told otherwise (`--host`, or `ACTION_SERVER_HOST`, e.g. a private
  network's address), where rasa-sdk listens on every interface;
- every route but `/health` and `/metrics` wants `Authorization: Bearer $ACTION_SERVER_TOKEN` (Rasa
  sends it from endpoints.yml) and answers 401 otherwise, before any action runs: whoever reaches
  rasa-sdk's `/webhook` could otherwise run any action with a made-up tracker. Without the token set
  the server refuses to start, unless `--dev-allow-no-token` says it is a throwaway development server;
- every action run is counted and timed (`MeasuredExecutor`), and `GET /metrics` serves those
  numbers in Prometheus' text format, only for `METRICS_TOKEN`'s bearer (403 while it is unset).
`--grpc` is handed to rasa-sdk unchanged (no token check, no metrics), so only with `--dev-allow-no-token`.

With one worker (the default) the app is served in this very process, and SIGTERM stops it cleanly at
any moment (`bot.action_server.shutdown`). With `SANIC_WORKERS` above 1 Sanic spawns worker processes,
each answering `/metrics` with its own numbers (and without that clean stop): scale with more servers.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Mapping
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

from bot.action_server.settings import DEFAULT_HOST, HOST_ENV, TOKEN_ENV, ActionServerSettings
from bot.action_server.shutdown import serve_in_process
from bot.bearer import bearer_matches
from bot.config_files import ConfigFileError
from bot.handoff.escalation import EscalationConfig
from bot.metrics import (
    CHALLENGE,
    LATENCY_BUCKETS,
    PREFIX,
    exposition,
    metrics_token_from_env,
    new_registry,
    refusal,
)
from bot.settings import ConfigError, fail_clearly

logger = logging.getLogger(__name__)

OPEN_PATHS = ("/health", "/metrics")  # /metrics checks METRICS_TOKEN itself
ACTION_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="actions"'}


class ConfigurationError(SystemExit):
    """The server would run actions for anyone who reaches it."""


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
        if refused := refusal(request.headers.get("Authorization"), token):
            return response.text(refused[1], status=refused[0], headers=CHALLENGE)
        body, content_type = exposition(REGISTRY, request.headers.get("Accept"))
        return HTTPResponse(body, content_type=content_type)

    app.add_route(metrics, "/metrics", methods=["GET"], name="metrics")


def require_token(app: Sanic, token: str | None) -> None:
    """Refuse every request but `OPEN_PATHS` without `Authorization: Bearer <token>` (None: no check)."""
    if token is None:
        return

    async def check(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS or bearer_matches(request.headers.get("Authorization"), token):
            return None
        logger.warning(
            "%s %s from %s refused: no valid bearer token", request.method, request.path, request.ip
        )
        return response.json({"error": "unauthorized"}, status=401, headers=ACTION_CHALLENGE)

    app.register_middleware(check, "request")


def create_app(
    action_executor: ActionExecutor,
    cors_origins: str | list[str] | None = "*",
    auto_reload: bool = False,
    endpoints: str = DEFAULT_ENDPOINTS_PATH,
    keep_alive_timeout: int = DEFAULT_KEEP_ALIVE_TIMEOUT,
    action_token: str | None = None,
) -> Sanic:
    """rasa-sdk's app (as `python -m rasa_sdk` builds it in each worker), the token check, the metrics."""
    app = create_app_for_serve(
        action_executor,
        cors_origins=cors_origins,
        auto_reload=auto_reload,
        endpoints=endpoints,
        keep_alive_timeout=keep_alive_timeout,
    )
    require_token(app, action_token)
    add_metrics_route(app, metrics_token_from_env())
    return app


def action_token(env: Mapping[str, str], allow_none: bool) -> str | None:
    """`ACTION_SERVER_TOKEN`; ConfigurationError when unset, unless `allow_none` (the dev flag)."""
    token = ActionServerSettings.from_env(env).token
    if token is None and not allow_none:
        raise ConfigurationError(
            f"{TOKEN_ENV} is not set: the action server would run actions for anyone who reaches it. "
            f"Set it here and in Rasa's environment (endpoints.yml sends it), or pass "
            f"--dev-allow-no-token for a throwaway development server."
        )
    if token is None:
        logger.warning("%s not set and --dev-allow-no-token given: /webhook is open", TOKEN_ENV)
    return token


def serve(args: argparse.Namespace, token: str | None) -> None:
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
            action_token=token,
        )
    )
    app = loader.load()
    ssl = create_ssl_config(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    logger.info("action server with /metrics on %s://%s:%s", "https" if ssl else "http", args.host, args.port)
    workers = utils.number_of_sanic_workers()
    if workers == 1:  # the default: in this process, stopped cleanly by SIGTERM (bot.action_server.shutdown)
        serve_in_process(app, args.host, args.port, ssl)
        return
    app.prepare(host=args.host, port=args.port, ssl=ssl, workers=workers)
    Sanic.serve(primary=app, app_loader=loader)


def argument_parser(host: str | None = None) -> argparse.ArgumentParser:
    """rasa-sdk's options plus `--host` (default: the settings' host) and `--dev-allow-no-token`."""
    parser = create_argument_parser()
    parser.add_argument(
        "--host",
        default=host or ActionServerSettings.from_env().host,
        help=f"address to listen on (default ${HOST_ENV} or {DEFAULT_HOST}); a private one, never public",
    )
    parser.add_argument(
        "--dev-allow-no-token",
        action="store_true",
        help=f"start without {TOKEN_ENV}, /webhook open to whoever reaches it (development only)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse the options, check the token and serve."""
    try:  # the actions build their services on first use, in the worker: check what they will read now
        settings = ActionServerSettings.from_env(os.environ)
        EscalationConfig.watch()
    except (ConfigError, ConfigFileError) as err:
        raise fail_clearly(err, "action server") from None
    args = argument_parser(settings.host).parse_args(argv)
    token = action_token(os.environ, allow_none=args.dev_allow_no_token)
    if args.grpc:
        if token is not None or not args.dev_allow_no_token:
            raise ConfigurationError("--grpc has no token check: only with --dev-allow-no-token")
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
    serve(args, token)
