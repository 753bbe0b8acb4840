"""What the fake X remembers: OAuth nonces, uploaded media, DM media URLs, customers, the echo switch.

Owned by `SimState` (one app, one event loop, so no locks) and sharing its clock.
"""

from __future__ import annotations

import secrets
import string
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.simulator.const import (
    X_BRAND_NAME,
    X_DEFAULT_AVATAR,
    X_ECHOES_KEPT,
    X_MEDIA_EXPIRES_SECONDS,
    X_RATE_LIMITS,
    X_RATE_WINDOW_SECONDS,
    X_SNOWFLAKE_EPOCH_MS,
)
from bot.simulator.x_oauth import NonceCache

_NAME_ALPHABET = string.ascii_letters + string.digits + "_-"


@dataclass
class XMedia:
    """An image X knows by `media_id`: uploaded by our connector, or sent by a customer in a DM.

    The bytes live in the simulator's media store under `store_id`.
    """

    media_id: str
    store_id: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    category: str
    created_at: float

    @property
    def media_key(self) -> str:
        """`3_<id>` for photos, `16_<id>` for animated GIFs (X's media key prefixes)."""
        return ("16_" if self.category.endswith("_gif") else "3_") + self.media_id


@dataclass
class XUser:
    """A customer (or the brand) as the `users` map and tweets show them."""

    id: str
    name: str
    screen_name: str
    created_ms: int
    followers_count: int = 12

    def account(self) -> dict[str, Any]:
        """The user object of Account Activity's `users` map."""
        return {
            "id": self.id,
            "created_timestamp": str(self.created_ms),
            "name": self.name,
            "screen_name": self.screen_name,
            "protected": False,
            "verified": False,
            "followers_count": self.followers_count,
            "friends_count": 34,
            "statuses_count": 56,
            "profile_image_url": X_DEFAULT_AVATAR.replace("https://", "http://"),
            "profile_image_url_https": X_DEFAULT_AVATAR,
        }


class XState:
    """The fake X's memory; `clock` gives epoch seconds."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.nonces = NonceCache()
        self.echoes_enabled = True
        self.echo_deliveries: deque[dict[str, Any]] = deque(maxlen=X_ECHOES_KEPT)
        self._last_id = 0
        self._media: dict[str, XMedia] = {}
        self._ton: dict[tuple[str, str], str] = {}
        self._users: dict[str, XUser] = {}
        self._calls: dict[str, deque[float]] = {}

    def new_id(self) -> str:
        """A fresh snowflake id (time, worker 1, sequence), strictly increasing."""
        candidate = (int(self.clock() * 1000) - X_SNOWFLAKE_EPOCH_MS) << 22 | 1 << 12
        self._last_id = max(candidate, self._last_id + 1)
        return str(self._last_id)

    # Media
    def add_media(self, store_id: str, content_type: str, size: int, dims: Any, category: str) -> XMedia:
        """Register an image (already in the media store) under a new media id."""
        width, height = dims if dims else (None, None)
        media = XMedia(self.new_id(), store_id, content_type, size, width, height, category, self.clock())
        self._media[media.media_id] = media
        return media

    def media(self, media_id: str) -> XMedia | None:
        """A media id uploaded within the last 24 hours (X's expires_after_secs)."""
        media = self._media.get(media_id)
        if media is None or self.clock() - media.created_at > X_MEDIA_EXPIRES_SECONDS:
            return None
        return media

    def any_media(self, media_id: str) -> XMedia | None:
        """A media id, expired or not (the simulator's own viewer keeps showing old images)."""
        return self._media.get(media_id)

    def add_ton(self, event_id: str, media: XMedia) -> str:
        """Publish `media` under DM `event_id` (or a tweet's photo key); returns the file name in its URL."""
        extension = {"image/png": "png", "image/gif": "gif", "image/webp": "webp"}.get(
            media.content_type, "jpg"
        )
        name = "".join(secrets.choice(_NAME_ALPHABET) for _ in range(8)) + "." + extension
        self._ton[(event_id, media.media_id)] = name
        return name

    def ton_media(self, event_id: str, media_id: str, name: str) -> XMedia | None:
        """The media behind a ton URL, if that exact URL was published."""
        if self._ton.get((event_id, media_id)) != name:
            return None
        return self._media.get(media_id)

    # Users
    def user(self, user_id: str, name: str | None = None, screen_name: str | None = None) -> XUser:
        """A customer, created with made-up names on first sight; given names replace the old ones."""
        user = self._users.get(user_id)
        if user is None:
            suffix = user_id[-6:]
            user = XUser(user_id, f"Customer {suffix}", f"customer{suffix}", int(self.clock() * 1000))
            self._users[user_id] = user
        if name:
            user.name = name
        if screen_name:
            user.screen_name = screen_name
        return user

    def brand(self, user_id: str, screen_name: str) -> XUser:
        """The brand's own account."""
        return self.user(user_id, X_BRAND_NAME, screen_name)

    def find_screen_name(self, screen_name: str) -> XUser | None:
        """A known user by screen name, ignoring case (as X does)."""
        wanted = screen_name.lower()
        return next((u for u in self._users.values() if u.screen_name.lower() == wanted), None)

    # Rate limits (reported in headers, never enforced: refusals come from /_sim/fail)
    def count_call(self, kind: str) -> tuple[int, int, float]:
        """Count a call of `kind`; (limit, remaining, reset epoch seconds) for its 15-minute window."""
        now = self.clock()
        calls = self._calls.setdefault(kind, deque())
        while calls and now - calls[0] >= X_RATE_WINDOW_SECONDS:
            calls.popleft()
        calls.append(now)
        limit = X_RATE_LIMITS.get(kind, X_RATE_LIMITS["message"])
        return limit, max(limit - len(calls), 0), calls[0] + X_RATE_WINDOW_SECONDS

    def rate_limit(self, kind: str) -> int:
        """The per-window limit reported for `kind`."""
        return X_RATE_LIMITS.get(kind, X_RATE_LIMITS["message"])
