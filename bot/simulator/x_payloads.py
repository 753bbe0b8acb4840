"""What X's Account Activity API sends: DM events, v1.1 tweets, entities, media objects, user maps.

Shapes follow https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/
account-activity-data-objects and recorded payloads: links in texts are replaced by 23-character t.co
links (the original in `entities.urls[].expanded_url`); a DM with a photo carries the photo's t.co link
at the end of its text (after a space, even when there is no text) and in `entities.urls`; indices
count code points. Tweets over 140 characters keep the start in `text` (with `truncated: true`) and
the rest in `extended_tweet`. Pure functions apart from new ids and user lookups from `XState`.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.simulator.const import (
    X_APP_ID,
    X_APP_NAME,
    X_APP_URL,
    X_DISPLAY_URL_MAX,
    X_LEGACY_TEXT_MAX,
    X_TCO_PREFIX,
    X_TWEET_SOURCE,
)
from bot.simulator.x_state import XMedia, XUser

Lookup = Callable[[str], XUser | None]

_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
_HASHTAG = re.compile(r"(?<![\w&])#(\w+)")
_MENTION = re.compile(r"(?<![A-Za-z0-9_@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_])")
_TCO_ALPHABET = string.ascii_letters + string.digits
_SHORT_LINK = len(X_TCO_PREFIX) + 10
# Spelled out rather than strftime's %a/%b, which follow the locale.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def created_at(epoch_seconds: float) -> str:
    """X's v1.1 date format, e.g. `Wed Nov 25 23:23:08 +0000 2026` (always UTC, English names)."""
    t = time.gmtime(epoch_seconds)
    day = _DAYS[t.tm_wday]
    month = _MONTHS[t.tm_mon - 1]
    return f"{day} {month} {t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000 {t.tm_year}"


def tco() -> str:
    """A made-up t.co link."""
    return X_TCO_PREFIX + "".join(secrets.choice(_TCO_ALPHABET) for _ in range(10))


def display_url(url: str) -> str:
    """How X shows a link: without the scheme, cut with an ellipsis when long."""
    shown = re.sub(r"^https?://(www\.)?", "", url, flags=re.IGNORECASE)
    return shown if len(shown) <= X_DISPLAY_URL_MAX else shown[:X_DISPLAY_URL_MAX] + "…"


@dataclass(frozen=True)
class Wrapped:
    """A text as X delivers it (links shortened) and its entities."""

    text: str
    entities: dict[str, list[dict[str, Any]]]


def wrap_text(text: str, lookup: Lookup) -> Wrapped:
    """Shorten links to t.co and find hashtags, links and mentions of users X knows (`lookup`)."""
    pieces: list[str] = []
    urls: list[dict[str, Any]] = []
    position = 0
    length = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        before = text[position : match.start()]
        pieces.append(before)
        length += len(before)
        short = tco()
        urls.append(
            {
                "url": short,
                "expanded_url": url,
                "display_url": display_url(url),
                "indices": [length, length + len(short)],
            }
        )
        pieces.append(short)
        length += len(short)
        position = match.start() + len(url)
    pieces.append(text[position:])
    wrapped = "".join(pieces)
    hashtags = [{"text": m.group(1), "indices": [m.start(), m.end()]} for m in _HASHTAG.finditer(wrapped)]
    mentions = []
    for match in _MENTION.finditer(wrapped):
        user = lookup(match.group(1))
        if user is not None:
            mentions.append(
                {
                    "screen_name": user.screen_name,
                    "name": user.name,
                    "id": int(user.id),
                    "id_str": user.id,
                    "indices": [match.start(), match.end()],
                }
            )
    entities = {"hashtags": hashtags, "symbols": [], "user_mentions": mentions, "urls": urls}
    return Wrapped(wrapped, entities)


def media_sizes(width: int | None, height: int | None) -> dict[str, dict[str, Any]]:
    """The `sizes` of a photo: thumb is a 150x150 crop, the others fit within their bounds."""

    def fit(bound: int) -> dict[str, Any]:
        w, h = width or bound, height or bound
        scale = min(1.0, bound / max(w, h))
        return {"w": max(1, round(w * scale)), "h": max(1, round(h * scale)), "resize": "fit"}

    return {
        "thumb": {"w": 150, "h": 150, "resize": "crop"},
        "small": fit(680),
        "medium": fit(1200),
        "large": fit(2048),
    }


def dm_media_object(media: XMedia, event_id: str, ton_url: str, short: str, start: int) -> dict[str, Any]:
    """The tweet-style media object of a DM attachment; the photo itself is at `ton_url`."""
    return {
        "id": int(media.media_id),
        "id_str": media.media_id,
        "indices": [start, start + len(short)],
        "media_url": ton_url,
        "media_url_https": ton_url,
        "url": short,
        "display_url": "pic.twitter.com/" + short.removeprefix(X_TCO_PREFIX),
        "expanded_url": f"https://twitter.com/messages/media/{event_id}",
        "type": "animated_gif" if media.category.endswith("_gif") else "photo",
        "sizes": media_sizes(media.width, media.height),
    }


@dataclass(frozen=True)
class DirectMessage:
    """One DM event to build: who wrote to whom, what, and any photo (with its ton URL)."""

    event_id: str
    created_ms: int
    sender: XUser
    recipient: XUser
    text: str = ""
    quick_reply_metadata: str | None = None
    media: XMedia | None = None
    ton_url: str | None = None
    from_app: bool = False


def dm_event(message: DirectMessage, lookup: Lookup) -> dict[str, Any]:
    """A `message_create` event as Account Activity delivers it."""
    wrapped = wrap_text(message.text, lookup)
    text, entities = wrapped.text, wrapped.entities
    message_data: dict[str, Any] = {"text": text, "entities": entities}
    if message.quick_reply_metadata is not None:
        message_data["quick_reply_response"] = {"type": "options", "metadata": message.quick_reply_metadata}
    if message.media is not None and message.ton_url is not None:
        short = tco()
        start = len(text) + 1
        message_data["text"] = f"{text} {short}"
        entities["urls"].append(
            {
                "url": short,
                "expanded_url": f"https://twitter.com/messages/media/{message.event_id}",
                "display_url": "pic.twitter.com/" + short.removeprefix(X_TCO_PREFIX),
                "indices": [start, start + len(short)],
            }
        )
        media = dm_media_object(message.media, message.event_id, message.ton_url, short, start)
        message_data["attachment"] = {"type": "media", "media": media}
    create: dict[str, Any] = {
        "target": {"recipient_id": message.recipient.id},
        "sender_id": message.sender.id,
    }
    if message.from_app:
        create["source_app_id"] = X_APP_ID
    create["message_data"] = message_data
    return {
        "type": "message_create",
        "id": message.event_id,
        "created_timestamp": str(message.created_ms),
        "message_create": create,
    }


def dm_webhook(for_user_id: str, message: DirectMessage, lookup: Lookup) -> dict[str, Any]:
    """The whole `direct_message_events` webhook body, with `apps` for DMs our app sent."""
    body: dict[str, Any] = {"for_user_id": for_user_id, "direct_message_events": [dm_event(message, lookup)]}
    if message.from_app:
        body["apps"] = {X_APP_ID: {"id": X_APP_ID, "name": X_APP_NAME, "url": X_APP_URL}}
    body["users"] = {user.id: user.account() for user in (message.sender, message.recipient)}
    return body


def tweet_user(user: XUser) -> dict[str, Any]:
    """The v1.1 user object embedded in a tweet."""
    account = user.account()
    return {
        "id": int(user.id),
        "id_str": user.id,
        "name": user.name,
        "screen_name": user.screen_name,
        "location": None,
        "url": None,
        "description": None,
        "protected": False,
        "verified": False,
        "followers_count": account["followers_count"],
        "friends_count": account["friends_count"],
        "listed_count": 0,
        "favourites_count": 0,
        "statuses_count": account["statuses_count"],
        "created_at": created_at(user.created_ms / 1000),
        "profile_image_url_https": account["profile_image_url_https"],
        "default_profile_image": True,
    }


def _truncate(tweet_id: str, wrapped: Wrapped) -> tuple[str, dict[str, Any]]:
    """The first ~115 characters, an ellipsis and a link to the whole tweet; no entity is cut."""
    cut = X_LEGACY_TEXT_MAX - _SHORT_LINK - 2
    for items in wrapped.entities.values():
        for item in items:
            start, end = item["indices"]
            if start < cut < end:
                cut = start
    prefix = wrapped.text[:cut].rstrip()
    kept = {
        name: [item for item in items if item["indices"][1] <= len(prefix)]
        for name, items in wrapped.entities.items()
    }
    short = tco()
    start = len(prefix) + 2
    status_url = f"https://twitter.com/i/web/status/{tweet_id}"
    kept["urls"].append(
        {
            "url": short,
            "expanded_url": status_url,
            "display_url": display_url(status_url),
            "indices": [start, start + len(short)],
        }
    )
    return f"{prefix}… {short}", kept


@dataclass(frozen=True)
class ReplyTo:
    """The tweet a reply answers, and its author."""

    tweet_id: str
    user: XUser


@dataclass(frozen=True)
class TweetPhoto:
    """A tweet's photo and where it is served (an OAuth-protected URL of the simulator)."""

    media: XMedia
    url: str


def tweet_media_object(
    photo: TweetPhoto, tweet_id: str, author: XUser, short: str, start: int
) -> dict[str, Any]:
    """The `entities.media` / `extended_entities.media` item of a tweet's photo, linked by `short`."""
    media = photo.media
    return {
        "id": int(media.media_id),
        "id_str": media.media_id,
        "indices": [start, start + len(short)],
        "media_url": photo.url,
        "media_url_https": photo.url,
        "url": short,
        "display_url": "pic.twitter.com/" + short.removeprefix(X_TCO_PREFIX),
        "expanded_url": f"https://twitter.com/{author.screen_name}/status/{tweet_id}/photo/1",
        "type": "photo",
        "sizes": media_sizes(media.width, media.height),
    }


def _in_reply_to(reply_to: ReplyTo | None, wrapped: Wrapped) -> dict[str, Any]:
    """The `in_reply_to_*` fields: the answered tweet, else the user a leading mention addresses."""
    if reply_to is not None:
        user = reply_to.user
        return {
            "in_reply_to_status_id": int(reply_to.tweet_id),
            "in_reply_to_status_id_str": reply_to.tweet_id,
            "in_reply_to_user_id": int(user.id),
            "in_reply_to_user_id_str": user.id,
            "in_reply_to_screen_name": user.screen_name,
        }
    mentions = wrapped.entities["user_mentions"]
    addressed = mentions[0] if mentions and mentions[0]["indices"][0] == 0 else None
    return {
        "in_reply_to_status_id": None,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id": addressed["id"] if addressed else None,
        "in_reply_to_user_id_str": addressed["id_str"] if addressed else None,
        "in_reply_to_screen_name": addressed["screen_name"] if addressed else None,
    }


def tweet(
    tweet_id: str,
    now: float,
    author: XUser,
    text: str,
    lookup: Lookup,
    reply_to: ReplyTo | None = None,
    photo: TweetPhoto | None = None,
    display_start: int = 0,
) -> dict[str, Any]:
    """A v1.1 tweet as `tweet_create_events` carries it.

    A tweet that starts with a mention is, for X, addressed to that user (`in_reply_to_user_id`);
    a reply names the answered tweet. A photo's t.co link is appended to the text and described in
    `entities.media` and `extended_entities`; `display_start` skips a reply's leading mentions in
    `display_text_range`, which replies and tweets with photos carry.
    """
    wrapped = wrap_text(text, lookup)
    shown = [display_start, len(wrapped.text)]
    full_text = wrapped.text
    media: list[dict[str, Any]] = []
    if photo is not None:
        short = tco()
        start = len(full_text) + 1 if full_text else 0
        full_text = f"{full_text} {short}" if full_text else short
        media.append(tweet_media_object(photo, tweet_id, author, short, start))
    body: dict[str, Any] = {
        "created_at": created_at(now),
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": full_text,
        "source": X_TWEET_SOURCE,
        "truncated": False,
        **_in_reply_to(reply_to, wrapped),
        "user": tweet_user(author),
        "geo": None,
        "coordinates": None,
        "place": None,
        "contributors": None,
        "is_quote_status": False,
        "quote_count": 0,
        "reply_count": 0,
        "retweet_count": 0,
        "favorite_count": 0,
        "entities": wrapped.entities,
        "favorited": False,
        "retweeted": False,
        "filter_level": "low",
        "lang": "en",
        "timestamp_ms": str(int(now * 1000)),
    }
    if len(full_text) > X_LEGACY_TEXT_MAX:
        body["text"], body["entities"] = _truncate(tweet_id, Wrapped(full_text, wrapped.entities))
        body["truncated"] = True
        extended: dict[str, Any] = {
            "full_text": full_text,
            "display_text_range": shown,
            "entities": {**wrapped.entities, **({"media": media} if media else {})},
        }
        if media:
            extended["extended_entities"] = {"media": media}
        body["extended_tweet"] = extended
    elif media or reply_to is not None:
        body["display_text_range"] = shown
        if media:
            body["entities"] = {**wrapped.entities, "media": media}
            body["extended_entities"] = {"media": media}
    return body


def mentions_user(text: str, screen_name: str) -> bool:
    """Whether `text` @-mentions `screen_name` (case does not matter on X)."""
    return any(m.group(1).lower() == screen_name.lower() for m in _MENTION.finditer(text))
