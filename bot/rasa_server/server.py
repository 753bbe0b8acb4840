"""`python -m bot.rasa_server run ...`: `rasa run` with the HTTP API's secret read from the environment.

Runs in runtime A in place of the `rasa` script, with the same arguments. Secrets never go on the
command line (anyone on the machine can read it in `ps`): `--auth-token`, `--jwt-secret` and
`--jwt-private-key` are refused here, and with `--enable-api` the JWT secret comes from
`RASA_JWT_SECRET` (or the older `RASA_API_TOKEN`) and is handed to Rasa inside this process. Without
it the API would be open to anyone who reaches the port, so the server refuses to start. Rasa's
`?token=` query-string authentication is never enabled: callers send `Authorization: Bearer <JWT>`
(`bot.conversations.api_auth`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping

from bot.conversations.api_auth import jwt_secret_from_env  # PyJWT: a dependency of Rasa's own (sanic-jwt)
from bot.rasa_server import (
    action_connections,
    action_endpoint,
    action_retry,
    action_validation,
    applied_events,
    batch_parse,
    debug_copies,
    event_types,
    gc_freeze,
    graph_runner,
    local_actions,
    model_swap,
    prediction,
    prior_states,
    rule_index,
    sessions,
    sql_events,
    sqlite_pool,
)

SECRET_OPTIONS = ("--auth-token", "--jwt-secret", "--jwt-private-key")
OPEN_API_REFUSAL = (
    "--enable-api without a secret would leave Rasa's HTTP API open to anyone who reaches the port: "
    "start the server with `python -m bot.rasa_server run --enable-api ...` and RASA_JWT_SECRET set "
    "(callers send a JWT signed with it), or leave --enable-api out"
)


class ConfigurationError(SystemExit):
    """The server would start with a secret on its command line or an open HTTP API."""


def rasa_arguments(argv: list[str], env: Mapping[str, str]) -> list[str]:
    """Rasa's command line with the JWT secret added from the environment; raises ConfigurationError."""
    given = [arg for arg in argv if arg.split("=", 1)[0] in SECRET_OPTIONS]
    if given:
        names = ", ".join(sorted({arg.split("=", 1)[0] for arg in given}))
        raise ConfigurationError(
            f"{names}: secrets on the command line are visible to every user (ps); "
            "set RASA_JWT_SECRET in the environment instead"
        )
    if argv[:1] != ["run"] or "--enable-api" not in argv:
        return argv
    secret = jwt_secret_from_env(env)
    if not secret:
        raise ConfigurationError(
            "--enable-api without RASA_JWT_SECRET would leave Rasa's HTTP API open to anyone who "
            "reaches the port: set RASA_JWT_SECRET (callers send a JWT signed with it)"
        )
    # One argument with "=": a secret that starts with "-" (token_urlsafe can) is not read as an option.
    return [*argv, f"--jwt-secret={secret}", "--jwt-method", "HS256"]


def open_api(argv: list[str]) -> bool:
    """Whether this `rasa run` command line serves the HTTP API with no secret at all."""
    options = {arg.split("=", 1)[0] for arg in argv}
    return "--enable-api" in options and not options & set(SECRET_OPTIONS)


def harden_jwt_checks() -> None:
    """Make sanic-jwt (1.8, Rasa 3.6's) refuse every bad token with a 401 and want an expiry.

    It catches only some of PyJWT's errors: a token signed with another algorithm (`none`, RS256) ends
    in a 500, which is still a refusal but an error in the logs for what is just a bad credential; and
    it accepts a token without `exp` for ever. Both become a 401 (`DecodeError`, which it handles).
    """
    import jwt
    from sanic_jwt.authentication import Authentication

    original = Authentication._decode

    async def _decode(
        self: Authentication, token: str, verify: bool = True, inline_claims: object = None
    ) -> dict:
        try:
            payload = await original(self, token, verify=verify, inline_claims=inline_claims)
        except jwt.DecodeError:
            raise
        except jwt.InvalidTokenError as err:
            raise jwt.DecodeError(str(err)) from err
        if verify and "exp" not in payload:
            raise jwt.DecodeError("the token has no expiry (exp)")
        return payload

    Authentication._decode = _decode  # type: ignore[method-assign]


def environment_defaults(env: MutableMapping[str, str]) -> None:
    """What the server's environment holds unless the operator set it."""
    # Rasa's telemetry and crash reports (Sentry) would send data to outside hosts; off unless asked for.
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    # One message's DIET inference is a few small matrix products: TensorFlow's default pools (a thread
    # per core, spinning between ops) only take the cores the action server and the event loop need.
    # Rasa applies these at start-up; set them higher to give TensorFlow more (bench/PROFILE.md).
    env.setdefault("TF_INTRA_OP_PARALLELISM_THREADS", "1")
    env.setdefault("TF_INTER_OP_PARALLELISM_THREADS", "1")


def install_turn_changes() -> None:
    """Our changes to how Rasa runs a turn (each module says why; bench/PROFILE.md measures them)."""
    action_endpoint.install()
    action_connections.install()
    action_retry.install()
    action_validation.install()
    local_actions.install()
    sessions.install()
    prediction.install()
    debug_copies.install()
    batch_parse.install()
    event_types.install()
    sqlite_pool.install()
    sql_events.install()
    graph_runner.install()
    gc_freeze.install()
    prior_states.install()
    applied_events.install()
    rule_index.install()
    model_swap.install()


_installed = False


def install_changes() -> None:
    """The JWT checks and the turn changes, once per process (`main`, or a plain `rasa`'s tracker store)."""
    global _installed
    if not _installed:
        harden_jwt_checks()
        install_turn_changes()
        _installed = True


def main(argv: list[str] | None = None) -> None:
    """Check the arguments, then run Rasa's own command-line entry point in this process."""
    arguments = rasa_arguments(list(sys.argv[1:] if argv is None else argv), os.environ)
    install_changes()
    environment_defaults(os.environ)
    # Only this process's copy of the arguments changes: /proc/<pid>/cmdline keeps what was typed.
    sys.argv = ["rasa", *arguments]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
