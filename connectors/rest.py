"""The REST channel for the local shell, tests and benchmarks, behind a shared secret.

`connectors.rest.TokenRestInput` in credentials.yml, at the same URL as Rasa's own REST channel
(`POST /webhooks/rest/webhook`, body `{"sender": ..., "message": ...}`, the bot's replies as a JSON list;
`?stream=true` streams them as lines). Rasa's channel lets any caller act in any conversation and pick
the `input_channel` and `metadata` that our services trust (photo URLs shown to agents, a VIP screen
name, `is_external`). This one:

- answers only `Authorization: Bearer $REST_CHANNEL_TOKEN` (constant-time comparison) with 401 otherwise;
  without `REST_CHANNEL_TOKEN` the channel is off: every request gets 403 and a log line;
- always records `input_channel` "rest" and no metadata, whatever the body says.

The token is read once, when Rasa builds the channel at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse, ResponseStream

from bot.bearer import bearer_matches

logger = logging.getLogger(__name__)

TOKEN_ENV = "REST_CHANNEL_TOKEN"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="rest"'}
OFF = "the REST channel is off: set REST_CHANNEL_TOKEN to turn it on"


def rest_token_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """`REST_CHANNEL_TOKEN`; None (channel off) when unset or empty."""
    from connectors.settings import ConnectorSettings

    return ConnectorSettings.from_env(env).rest_channel_token


class TokenRestInput(RestInput):
    """Rasa's REST channel with a bearer token, and without client-chosen channel or metadata."""

    def __init__(self, token: str | None) -> None:
        self.token = token or None

    @classmethod
    def name(cls) -> str:
        """Route name: /webhooks/rest/webhook, as with Rasa's channel."""
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TokenRestInput:
        """Build at start-up; the token comes from the environment, not credentials.yml."""
        token = rest_token_from_env()
        if token is None:
            logger.warning("%s (every request to /webhooks/rest/ is refused with 403)", OFF)
        return cls(token)

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()  # never the client's `input_channel`

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        """No metadata: what a client sends there is not trusted."""
        return None

    def refusal(self, request: Request) -> HTTPResponse | None:
        """403 when the channel is off, 401 without the right bearer token; None to go on."""
        if self.token is None:
            logger.warning("REST request from %s refused: %s", request.ip, OFF)
            return response.json({"error": OFF}, status=403)
        if not bearer_matches(request.headers.get("Authorization"), self.token):
            logger.warning("REST request from %s refused: no valid bearer token", request.ip)
            return response.json({"error": "unauthorized"}, status=401, headers=CHALLENGE)
        return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """`GET /` (health) and `POST /webhook`, both behind the token."""
        routes = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @routes.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return self.refusal(request) or response.json({"status": "ok"})

        @routes.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> ResponseStream | HTTPResponse:
            refused = self.refusal(request)
            if refused is not None:
                return refused
            body = request.json if isinstance(request.json, dict) else {}
            sender, text = body.get("sender"), body.get("message")
            if not isinstance(sender, str) or not sender or not isinstance(text, str):
                return response.json({"error": "expected {sender: string, message: string}"}, status=400)
            if request.args.get("stream", "").lower() == "true":
                stream = self.stream_response(on_new_message, text, sender, self.name(), None)
                return response.stream(stream, content_type="text/event-stream")
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender, input_channel=self.name()))
            except Exception:  # the outermost boundary: the caller still gets what was said so far
                logger.exception("REST message from %s failed", sender)
            return response.json(collector.messages)

        return routes
