"""Where Rasa calls the action server, and the secret it sends: from the environment, with local defaults.

endpoints.yml names the local action server (`http://127.0.0.1:5055/webhook`) and no secret, because
Rasa's `${VAR}` substitution has no defaults: with `${ACTION_SERVER_TOKEN}` there, a plain `rasa shell`
stops at start-up when the variable is unset. `install()` settles both the first time Rasa builds a
call to the action server (`RemoteAction`, for custom actions, forms' validation and slot mappings):

- the URL: `ACTION_ENDPOINT_URL` when set (a deployment), else endpoints.yml's;
- the secret, unless endpoints.yml sets an `Authorization` header itself: `ACTION_SERVER_TOKEN` when
  set, else the token a local action server started by `make run` or `make actions` left, readable by
  this user only, in `$VAR_DIR/run/action-server-<port>.token` (`bot.settings.action_token_file`).

Without either the calls go without a secret, the action server refuses them (401), and the first one
logs what to do.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from bot.rasa_server.action_connections import keep_alive
from bot.settings import LOOPBACK_HOSTS, action_token_file, local_var_dir

logger = logging.getLogger(__name__)


def action_url(configured: str | None, env: Mapping[str, str | None]) -> str | None:
    """`ACTION_ENDPOINT_URL`, else endpoints.yml's URL."""
    return env.get("ACTION_ENDPOINT_URL") or configured


def action_token(url: str | None, env: Mapping[str, str | None]) -> str | None:
    """`ACTION_SERVER_TOKEN`, else the token file of a local action server on the URL's port."""
    if env.get("ACTION_SERVER_TOKEN"):
        return env["ACTION_SERVER_TOKEN"]
    parts = urlsplit(url or "")
    if parts.hostname not in LOOPBACK_HOSTS or not parts.port:
        return None
    path = action_token_file(local_var_dir(env), parts.port)
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def configure(endpoint: Any, env: Mapping[str, str | None] | None = None) -> None:
    """Set the URL (once) and the secret (every call: a local action server restarted has a new one)."""
    if endpoint is None:
        return
    env = os.environ if env is None else env
    if not getattr(endpoint, "loom_configured", False):
        endpoint.url = action_url(endpoint.url, env)
        # A header written in endpoints.yml is the operator's: kept as it is.
        endpoint.loom_own_header = any(name.lower() == "authorization" for name in endpoint.headers)
        endpoint.loom_configured = True
        keep_alive(endpoint)
    if endpoint.loom_own_header:
        return
    token = action_token(endpoint.url, env)
    if token:
        endpoint.headers["Authorization"] = f"Bearer {token}"
    elif not getattr(endpoint, "loom_warned", False):
        endpoint.loom_warned = True
        logger.error(
            "no secret for the action server at %s: set ACTION_SERVER_TOKEN, or start it with "
            "`make actions` (or `make run`), which leaves one for this user in $VAR_DIR/run/",
            endpoint.url,
        )


def install() -> None:
    """Configure the action endpoint whenever Rasa builds a call to the action server (idempotent)."""
    from rasa.core.actions.action import RemoteAction

    if getattr(RemoteAction.__init__, "loom_endpoint", False):
        return
    original = RemoteAction.__init__

    def __init__(self: RemoteAction, name: str, action_endpoint: Any) -> None:
        configure(action_endpoint)
        original(self, name, action_endpoint)

    __init__.loom_endpoint = True  # type: ignore[attr-defined]
    RemoteAction.__init__ = __init__  # type: ignore[method-assign]
