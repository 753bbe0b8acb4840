"""Client of Meta's Send API (Messenger and Instagram) and comment edges, with retries and clear errors.

https://developers.facebook.com/docs/messenger-platform/reference/send-api
Retries with exponential backoff and jitter on 429, 5xx, timeouts and Graph's transient error codes;
never on errors that cannot succeed on a retry (bad token, bad request, outside the messaging window).
Proactive limits per Page or Instagram account (`connectors.rate_limit`): Send API calls (messages,
sender actions, private replies) take a `meta_send` token, other Graph calls a `meta_graph` one.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from connectors.metrics import count, measured_send
from connectors.outbox import Outbox
from connectors.platform_client import PlatformClient, PlatformError, Session
from connectors.rate_limit import account_key

DEFAULT_GRAPH_API_URL = "https://graph.facebook.com/v21.0"
# https://developers.facebook.com/docs/graph-api/guides/error-handling
TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 613, 1200}
WINDOW_SUBCODE = 2018278
ALREADY_REPLIED = 10900  # a private reply was sent to this comment before
EXPLANATIONS = {
    190: "the access token is invalid or expired: check META_PAGE_ACCESS_TOKEN / INSTAGRAM_ACCESS_TOKEN",
    10: "the app lacks permission, or the message is outside the allowed messaging window",
    200: "the app lacks a permission (pages_messaging / instagram_manage_messages)",
    100: "Meta rejected the request as invalid",
    551: "this person is not available to receive messages right now",
    613: "rate limit reached",
    4: "app rate limit reached",
    17: "user rate limit reached",
    2: "temporary Meta problem",
    1200: "temporary send error",
}


class GraphApiError(PlatformError):
    """Meta refused a request (or could not be reached after all retries). Meta gives no retry time."""

    def __init__(
        self, message: str, status: int = 0, code: int | None = None, subcode: int | None = None
    ) -> None:
        super().__init__(message, status)
        self.code = code
        self.subcode = subcode

    @property
    def retryable(self) -> bool:
        """Whether trying again later can succeed (also on Graph's transient error codes)."""
        return super().retryable or self.code in TRANSIENT_CODES

    @property
    def already_replied(self) -> bool:
        """A second private reply to one comment: Meta allows one."""
        return self.code == ALREADY_REPLIED

    @property
    def outside_window(self) -> bool:
        """Meta's 24-hour (or 7-day human agent) window has closed for this person."""
        return self.subcode == WINDOW_SUBCODE


def error_from_response(status: int, body: Any) -> GraphApiError:
    """A GraphApiError from an error answer, with an explanation for the log."""
    error = body.get("error", {}) if isinstance(body, dict) else {}
    code, subcode = error.get("code"), error.get("error_subcode")
    explanation = EXPLANATIONS.get(code, "") if code is not None else ""
    if subcode == WINDOW_SUBCODE:
        explanation = "outside the messaging window (24 h, or 7 days for HUMAN_AGENT)"
    message = f"HTTP {status}, Graph error {code}/{subcode}: {error.get('message', body)}"
    return GraphApiError(f"{message} ({explanation})" if explanation else message, status, code, subcode)


class GraphApiClient(PlatformClient):
    """Sends messages and sender actions for one Page or Instagram account."""

    api_name = "Graph API"
    error = GraphApiError

    def __init__(
        self, base_url: str, access_token: str, platform: str, session: Session, **settings: Any
    ) -> None:
        super().__init__(platform, session, **settings)
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/me/messages"
        self._token = access_token

    @property
    def api_url(self) -> str:
        """Graph's base URL (the default rate limits apply to graph.facebook.com and its kin)."""
        return self.base_url

    def _account(self) -> str:
        """Meta limits per Page and per Instagram account: one budget per platform and token."""
        return account_key(self.platform, self._token)

    async def send_message(
        self,
        recipient_id: str,
        message: dict[str, Any],
        messaging_type: str = "RESPONSE",
        tag: str | None = None,
        outbox: Outbox | None = None,
    ) -> str:
        """Send one message; returns Meta's message id (once per turn position with an `outbox`)."""
        body: dict[str, Any] = {
            "recipient": {"id": recipient_id},
            "messaging_type": messaging_type,
            "message": message,
        }
        if tag:
            body["tag"] = tag
        return await self._send_once(
            outbox, lambda: self._post(body), lambda answer: str(answer.get("message_id", ""))
        )

    async def send_action(self, recipient_id: str, action: str) -> None:
        """A sender action (`typing_on`, `typing_off`, `mark_seen`): its own call, as Meta requires.

        Never through the outbox: repeating one harms nobody, and it must not take a reply's position.
        """
        await self._post({"recipient": {"id": recipient_id}, "sender_action": action})

    async def reply_to_comment(self, comment_id: str, text: str) -> str:
        """A public reply under a comment; returns the new comment's id.

        Facebook: `POST /{comment-id}/comments`; Instagram: `POST /{ig-comment-id}/replies`.
        """
        edge = "replies" if self.platform == "instagram" else "comments"
        with measured_send(self.platform):
            answer = await self._post_form(f"{comment_id}/{edge}", {"message": text})
        return str(answer.get("id", ""))

    async def mentioned(self, account_id: str, media_id: str, comment_id: str | None) -> dict[str, Any]:
        """What an Instagram mention says: the mentioning comment, or the media whose caption mentions us."""
        if comment_id:
            key = "mentioned_comment"
            fields = f"{key}.comment_id({comment_id}){{id,text,timestamp,username,media{{id,permalink}}}}"
        else:
            key = "mentioned_media"
            fields = (
                f"{key}.media_id({media_id}){{id,caption,media_type,media_url,permalink,timestamp,username}}"
            )
        answer = await self._with_retries(
            "GET",
            f"{self.base_url}/{account_id}",
            lambda: {"params": {"fields": fields, "access_token": self._token}},
            f"{self.platform} GET {key}",
            lambda err: count("graph_api_errors", self.platform, str(err.code or err.status)),
            limit="meta_graph",
        )
        found = answer.get(key)
        if not isinstance(found, dict):
            raise GraphApiError(f"Graph answered without {key}: {str(answer)[:200]}", 200)
        return found

    async def reply_to_mention(
        self, account_id: str, media_id: str, comment_id: str | None, text: str
    ) -> str:
        """A public reply to a caption or comment that mentions us: `POST /{ig-user-id}/mentions`."""
        fields = {"media_id": media_id, "message": text, **({"comment_id": comment_id} if comment_id else {})}
        with measured_send(self.platform):
            answer = await self._post_form(f"{account_id}/mentions", fields)
        return str(answer.get("id", ""))

    async def private_reply(self, comment_id: str, text: str) -> str:
        """Meta's private reply to a comment: one message to its author's inbox (once per comment)."""
        body = {"recipient": {"comment_id": comment_id}, "message": {"text": text}}
        with measured_send(self.platform):
            answer = await self._post(body)
        return str(answer.get("message_id", ""))

    async def set_comment_hidden(self, comment_id: str, hidden: bool) -> None:
        """Hide a comment from everyone but its author and their friends, or show it again."""
        key = "hide" if self.platform == "instagram" else "is_hidden"
        await self._post_form(comment_id, {key: "true" if hidden else "false"})

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST to the Send API with retries; the parsed answer, or GraphApiError."""
        recipient = body["recipient"].get("id") or f"comment {body['recipient'].get('comment_id')}"
        return await self._with_retries(
            "POST",
            self.url,
            lambda: {"json": body, "params": {"access_token": self._token}},
            f"{self.platform} send to {recipient}",
            lambda err: count("graph_api_errors", self.platform, str(err.code or err.status)),
            limit="meta_send",
        )

    async def _post_form(self, path: str, fields: dict[str, str]) -> dict[str, Any]:
        """POST form fields to a node or edge (`/{id}`, `/{id}/comments`) with retries."""
        return await self._with_retries(
            "POST",
            f"{self.base_url}/{path}",
            lambda: {"data": fields, "params": {"access_token": self._token}},
            f"{self.platform} POST /{path}",
            lambda err: count("graph_api_errors", self.platform, str(err.code or err.status)),
            limit="meta_graph",
        )

    def _unreadable(self, text: str) -> dict[str, Any]:
        return {"error": {"message": text}}

    def _result(self, response: aiohttp.ClientResponse, answer: Any) -> dict[str, Any]:
        if response.status != 200 or "error" in answer:
            raise error_from_response(response.status, answer)
        count("graph_api_sent", self.platform)
        return answer
