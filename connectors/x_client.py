"""Client of X's API for DMs and public replies, behind a small interface because X's API changes often.

`XClient` is all the channel uses; `XApiClient` implements it with the v2 endpoints and OAuth 1.0a
user context: `POST /2/dm_conversations/with/:participant_id/messages`, `POST /2/media/upload`,
signed GETs of DM media, `POST /2/tweets` (replies) and `PUT /2/tweets/:id/hidden`.
Retries (`bot.retry`'s policy): on 429 it waits until `x-rate-limit-reset` (capped), on 5xx and
network errors it backs off with jitter; other 4xx are final. Before that, DMs and posts take a token
of our account's budget (`connectors.rate_limit`: `x_dm`, `x_tweet`), shared by every replica.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp

from bot.x_oauth import OAuth1Credentials, authorization_header
from connectors.metrics import count, measured_send
from connectors.outbox import Outbox
from connectors.platform_client import PlatformClient, PlatformError, Session
from connectors.rate_limit import account_key

DEFAULT_X_API_URL = "https://api.x.com"
DM_TEXT_LIMIT = 10_000
MAX_MEDIA_BYTES = 5 * 1024 * 1024
MAX_RATE_LIMIT_WAIT = 60.0  # longer waits fail the send rather than stall the conversation


class XApiError(PlatformError):
    """X refused a request, or could not be reached after all retries (`wait`: from x-rate-limit-reset)."""


class XClient(Protocol):
    """What the X channel needs from X."""

    async def send_dm(
        self,
        participant_id: str,
        text: str | None = None,
        media_id: str | None = None,
        outbox: Outbox | None = None,
    ) -> str:
        """Send a DM; returns the DM event id. With `outbox` (bot replies): once per turn position."""

    async def upload_image(self, data: bytes, content_type: str) -> str:
        """Upload an image for a DM; returns the media id."""

    async def fetch_media(self, url: str) -> tuple[bytes, str]:
        """Download DM media (needs our credentials); returns bytes and content type."""

    async def reply_to_tweet(self, tweet_id: str, text: str) -> str:
        """A public reply from our account; returns the new tweet's id."""

    async def hide_reply(self, tweet_id: str, hidden: bool) -> None:
        """Hide (or show again) a reply to one of our tweets."""


class XApiClient(PlatformClient):
    """XClient over HTTP with OAuth 1.0a user context."""

    api_name = "X API"
    error = XApiError

    def __init__(
        self,
        base_url: str,
        credentials: OAuth1Credentials,
        session: Session,
        *,
        timeout: float = 15.0,
        **settings: Any,
    ) -> None:
        super().__init__("twitter", session, timeout=timeout, **settings)
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials

    @property
    def api_url(self) -> str:
        """X's base URL (the default rate limits apply to api.x.com and api.twitter.com)."""
        return self.base_url

    def _account(self) -> str:
        """X limits per user: one budget per app and access token (our brand account)."""
        return account_key(self.platform, self.credentials.consumer_key, self.credentials.token)

    async def send_dm(
        self,
        participant_id: str,
        text: str | None = None,
        media_id: str | None = None,
        outbox: Outbox | None = None,
    ) -> str:
        """`POST /2/dm_conversations/with/:participant_id/messages` (once per turn position with `outbox`)."""
        body: dict[str, Any] = {}
        if text:
            body["text"] = text
        if media_id:
            body["attachments"] = [{"media_id": media_id}]
        url = f"{self.base_url}/2/dm_conversations/with/{participant_id}/messages"
        return await self._send_once(
            outbox,
            lambda: self._request("POST", url, json=body, limit="x_dm"),
            lambda answer: str((answer.get("data") or {}).get("dm_event_id", "")),
        )

    async def reply_to_tweet(self, tweet_id: str, text: str) -> str:
        """`POST /2/tweets` with `reply.in_reply_to_tweet_id`."""
        body = {"text": text, "reply": {"in_reply_to_tweet_id": tweet_id}}
        with measured_send(self.platform):
            answer = await self._request("POST", f"{self.base_url}/2/tweets", json=body, limit="x_tweet")
        return str((answer.get("data") or {}).get("id", ""))

    async def hide_reply(self, tweet_id: str, hidden: bool) -> None:
        """`PUT /2/tweets/:id/hidden` (only replies to our own tweets can be hidden)."""
        await self._request("PUT", f"{self.base_url}/2/tweets/{tweet_id}/hidden", json={"hidden": hidden})

    async def upload_image(self, data: bytes, content_type: str) -> str:
        """`POST /2/media/upload` (multipart, category dm_image)."""

        def form() -> aiohttp.FormData:
            fields = aiohttp.FormData()
            fields.add_field("media_category", "dm_image")
            fields.add_field("media", data, filename="image", content_type=content_type)
            return fields

        answer = await self._request("POST", f"{self.base_url}/2/media/upload", form=form)
        return str((answer.get("data") or {}).get("id", ""))

    async def fetch_media(self, url: str) -> tuple[bytes, str]:
        """A signed GET of DM media, at most 5 MB."""
        session = await self._session()
        headers = {"Authorization": authorization_header(self.credentials, "GET", url)}
        async with session.get(
            url, headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout)
        ) as response:
            if response.status != 200:
                raise XApiError(f"media fetch answered HTTP {response.status}", response.status)
            data = await response.content.read(MAX_MEDIA_BYTES + 1)
            if len(data) > MAX_MEDIA_BYTES:
                raise XApiError("media larger than 5 MB", 413)
            return data, response.headers.get("Content-Type", "")

    async def _request(
        self,
        method: str,
        url: str,
        json: dict[str, Any] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        limit: str | None = None,
    ) -> dict[str, Any]:
        """A signed request with retries (a fresh signature, and form, each attempt; `limit`: its kind)."""
        return await self._with_retries(
            method,
            url,
            lambda: {
                "json": json,
                "data": form() if form else None,
                "headers": {"Authorization": authorization_header(self.credentials, method, url)},
            },
            f"X API {method} {url}",
            lambda err: count("x_api_errors", str(err.status)),
            limit=limit,
        )

    def _unreadable(self, text: str) -> dict[str, Any]:
        return {"detail": text}

    def _result(self, response: aiohttp.ClientResponse, answer: Any) -> dict[str, Any]:
        if response.status in (200, 201):
            count("x_api_sent")
            return answer if isinstance(answer, dict) else {}
        reset = response.headers.get("x-rate-limit-reset")
        wait = rate_limit_wait(reset) if response.status == 429 else None
        raise XApiError(f"HTTP {response.status}: {_detail(answer)}", response.status, wait)


def rate_limit_wait(reset: str | None, now: float | None = None) -> float:
    """Seconds until X's rate-limit window resets (from `x-rate-limit-reset`, epoch seconds), capped."""
    now = time.time() if now is None else now
    try:
        wait = float(reset) - now if reset is not None else 1.0
    except ValueError:
        wait = 1.0
    return min(MAX_RATE_LIMIT_WAIT, max(0.5, wait + random.uniform(0, 0.5)))


def _detail(answer: Any) -> str:
    if isinstance(answer, dict):
        errors = answer.get("errors") or []
        messages = [e.get("message", "") for e in errors if isinstance(e, dict)]
        return "; ".join(filter(None, [str(answer.get("detail") or answer.get("title") or ""), *messages]))
    return str(answer)[:200]
