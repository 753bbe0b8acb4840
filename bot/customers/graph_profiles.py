"""Meta's User Profile API: a Messenger or Instagram customer's name and picture, by their scoped id.

`GET {graph}/{PSID or IGSID}?fields=...&access_token=...` with the Page's (or the Instagram account's)
token. Meta answers an error object for a person who blocked the business, has not consented (commented
but never messaged) or is unknown to this token; all of those are ProfileUnavailable here.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.customers.const import FETCH_TIMEOUT, GRAPH_FIELDS, INSTAGRAM, MESSENGER
from bot.platform_env import PlatformConfigError, platform_settings, real_variables

logger = logging.getLogger(__name__)
DEFAULT_GRAPH_API_URL = (
    "https://graph.facebook.com/v21.0"  # the Meta connectors' default (connectors/graph_api.py)
)
SCOPED_ID = re.compile(
    r"[A-Za-z0-9_-]{1,128}"
)  # PSIDs and IGSIDs (numbers; the simulator's ids have letters)
TOKENS = {MESSENGER: "META_PAGE_ACCESS_TOKEN", INSTAGRAM: "INSTAGRAM_ACCESS_TOKEN"}


class ProfileUnavailable(Exception):
    """The platform did not give a profile (refused, unknown person, no answer, or no token)."""


@dataclass(frozen=True)
class FetchedProfile:
    """What a platform said about a customer."""

    name: str | None
    handle: str | None
    picture_url: str | None


def _text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value.strip() or None if isinstance(value, str) else None


def parse_profile(channel: str, body: Any) -> FetchedProfile:
    """The name, handle and picture of a User Profile API answer (Messenger: first and last name)."""
    if not isinstance(body, Mapping):
        raise ProfileUnavailable("not a JSON object")
    if channel == MESSENGER:
        parts = [p for p in (_text(body, "first_name"), _text(body, "last_name")) if p]
        name = " ".join(parts) or None
    else:
        name = _text(body, "name")
    return FetchedProfile(name, _text(body, "username"), _text(body, "profile_pic"))


class GraphProfiles:
    """Fetches Messenger and Instagram profiles with the channels' tokens (from the environment)."""

    def __init__(self, base_url: str, tokens: Mapping[str, str], timeout: float = FETCH_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self._tokens = dict(tokens)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GraphProfiles | None:
        """The channels' Graph address and tokens from the environment; None when it names no platform.

        Unlike the channels, nothing set does not mean "the simulator": a process started without the
        platforms' variables (a unit test, a desk on its own) fetches no profile rather than ask
        127.0.0.1. `make run` and the test stacks set the simulator's explicitly.
        """
        env = os.environ if env is None else env
        if not real_variables(env):
            return None
        try:
            values = platform_settings(env)
        except PlatformConfigError as err:
            logger.warning("customer names from Meta are off: %s", err)
            return None
        tokens = {channel: values.get(name) or "" for channel, name in TOKENS.items()}
        return cls(values.get("META_GRAPH_API_URL") or DEFAULT_GRAPH_API_URL, tokens)

    def handles(self, channel: str) -> bool:
        """Whether profiles of this channel come from Graph (and there is a token for it)."""
        return bool(self._tokens.get(channel))

    async def fetch(self, channel: str, user_id: str) -> FetchedProfile:
        """One customer's profile; ProfileUnavailable when Graph does not give it."""
        token = self._tokens.get(channel)
        if not token or channel not in GRAPH_FIELDS:
            raise ProfileUnavailable(f"no Graph token for {channel}")
        if not SCOPED_ID.fullmatch(user_id):
            raise ProfileUnavailable(f"not a scoped id: {user_id[:60]!r}")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        params = {"fields": GRAPH_FIELDS[channel], "access_token": token}
        try:
            async with self._session.get(f"{self.base_url}/{user_id}", params=params) as response:
                body = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise ProfileUnavailable(f"no answer: {type(err).__name__} {err}") from err
        if status != 200:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise ProfileUnavailable(
                f"HTTP {status}, Graph error {error.get('code')}: {error.get('message')}"
            )
        return parse_profile(channel, body)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
