"""X Account Activity API webhooks parsed into typed events.

A body carries `for_user_id` (our account) and one kind of event list: `direct_message_events`,
`tweet_create_events`, ... Handled kinds go through `PARSERS`; kinds we deliberately ignore are in
`IGNORED`; anything else becomes `Unsupported`, which is logged.
https://docs.x.com/x-api/account-activity/introduction (payload examples per event type)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.webhook_events import EventTable, InboundEvent, MalformedWebhook, SkippedEvent

TCO_LINK = re.compile(r"\s*https://t\.co/\S+\s*$")


@dataclass(frozen=True)
class XEvent(InboundEvent):
    """What every event has: its id, our account id and the raw item."""

    id: str
    for_user_id: str


@dataclass(frozen=True)
class DirectMessage(XEvent):
    """A DM sent to us. `payload` is a quick-reply answer; `media_url` needs an OAuth-signed fetch."""

    sender_id: str = ""
    timestamp: int = 0  # milliseconds
    text: str = ""
    payload: str | None = None
    media_url: str | None = None
    sender_name: str | None = None
    sender_screen_name: str | None = None
    sender_picture: str | None = None  # the sender's profile_image_url_https, from the webhook's `users`


@dataclass(frozen=True)
class OwnMessage(XEvent):
    """A DM we sent, echoed back to us (sender is our account): dropped."""

    recipient_id: str = ""


@dataclass(frozen=True)
class Mention(XEvent):
    """A public tweet that mentions the brand: not a conversation, but something to monitor."""

    author_id: str = ""
    author_screen_name: str = ""
    author_name: str = ""
    text: str = ""
    created_at: datetime | None = None
    url: str = ""
    in_reply_to: str | None = None
    media_urls: tuple[str, ...] = ()  # photos; X serves them to our signed requests
    followers: int | None = None


@dataclass(frozen=True)
class Ignored(XEvent, SkippedEvent):
    """A kind we receive and deliberately leave alone (typing, reads, likes, follows, other tweets)."""


@dataclass(frozen=True)
class Unsupported(XEvent, SkippedEvent):
    """A kind we do not know: logged."""


def _media_url(message_data: Mapping[str, Any]) -> str | None:
    attachment = message_data.get("attachment") or {}
    media = attachment.get("media") or {}
    if attachment.get("type") == "media" and media.get("type") in ("photo", "animated_gif", None):
        return media.get("media_url_https") or media.get("media_url")
    return None


def parse_direct_messages(for_user_id: str, body: Mapping[str, Any]) -> Iterator[XEvent]:
    """`direct_message_events` (only `message_create` carries a message)."""
    users = body.get("users") or {}
    for item in body["direct_message_events"]:
        event_id = str(item.get("id", ""))
        if item.get("type") != "message_create":
            yield Ignored(event_id, for_user_id, raw=item, kind=str(item.get("type")))
            continue
        try:
            create = item["message_create"]
            sender = str(create["sender_id"])
            data = create.get("message_data") or {}
        except (KeyError, TypeError) as err:
            raise MalformedWebhook(f"message_create without sender: {err}") from err
        if sender == for_user_id:
            recipient = str((create.get("target") or {}).get("recipient_id", ""))
            yield OwnMessage(event_id, for_user_id, raw=item, recipient_id=recipient)
            continue
        reply = data.get("quick_reply_response") or {}
        profile = users.get(sender) or {}
        media_url = _media_url(data)
        text = str(data.get("text") or "")
        if media_url:  # X appends the media's t.co link to the text; it is not something the customer wrote
            text = TCO_LINK.sub("", text).strip()
        yield DirectMessage(
            event_id,
            for_user_id,
            raw=item,
            sender_id=sender,
            timestamp=int(item.get("created_timestamp") or 0),
            text=text,
            payload=str(reply["metadata"]) if reply.get("metadata") else None,
            media_url=media_url,
            sender_name=profile.get("name"),
            sender_screen_name=profile.get("screen_name"),
            sender_picture=profile.get("profile_image_url_https"),
        )


def _created_at(value: Any) -> datetime | None:
    try:
        return datetime.strptime(str(value), "%a %b %d %H:%M:%S %z %Y")
    except ValueError:
        return None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _tweet_photos(tweet: Mapping[str, Any]) -> tuple[str, ...]:
    """The photos of a tweet (`extended_entities` lists them all; `entities` only the first)."""
    media = (tweet.get("extended_entities") or tweet.get("entities") or {}).get("media") or []
    return tuple(
        str(m.get("media_url_https") or m.get("media_url"))
        for m in media
        if isinstance(m, Mapping) and m.get("type") == "photo"
        if m.get("media_url_https") or m.get("media_url")
    )


def parse_tweets(for_user_id: str, body: Mapping[str, Any]) -> Iterator[XEvent]:
    """`tweet_create_events`: mentions of us by others; our own tweets and the rest are ignored."""
    for tweet in body["tweet_create_events"]:
        tweet_id = str(tweet.get("id_str") or tweet.get("id") or "")
        user = tweet.get("user") or {}
        author = str(user.get("id_str") or user.get("id") or "")
        mentioned = {
            str(m.get("id_str") or m.get("id"))
            for m in (tweet.get("entities") or {}).get("user_mentions", [])
        }
        if not tweet_id or not author:
            raise MalformedWebhook("tweet without id or author")
        if author == for_user_id:
            yield Ignored(tweet_id, for_user_id, raw=tweet, kind="own_tweet")
        elif for_user_id not in mentioned:
            yield Ignored(tweet_id, for_user_id, raw=tweet, kind="tweet_without_mention")
        else:
            screen_name = str(user.get("screen_name") or "")
            text = (
                (tweet.get("extended_tweet") or {}).get("full_text")
                or tweet.get("full_text")
                or tweet.get("text", "")
            )
            yield Mention(
                tweet_id,
                for_user_id,
                raw=tweet,
                author_id=author,
                author_screen_name=screen_name,
                author_name=str(user.get("name") or ""),
                text=str(text),
                created_at=_created_at(tweet.get("created_at")),
                url=f"https://x.com/{screen_name or 'i'}/status/{tweet_id}",
                in_reply_to=tweet.get("in_reply_to_status_id_str"),
                media_urls=_tweet_photos(tweet),
                followers=_count(user.get("followers_count")),
            )


PARSERS: dict[str, Callable[[str, Mapping[str, Any]], Iterator[XEvent]]] = {
    "direct_message_events": parse_direct_messages,
    "tweet_create_events": parse_tweets,
}
IGNORED = (
    "direct_message_indicate_typing_events",
    "direct_message_mark_read_events",
    "favorite_events",
    "follow_events",
    "unfollow_events",
    "block_events",
    "unblock_events",
    "mute_events",
    "unmute_events",
    "tweet_delete_events",
    "user_event",
)
EVENTS = EventTable(
    PARSERS, IGNORED, envelope=frozenset({"for_user_id", "users", "apps", "user_has_blocked", "source"})
)


def parse_webhook(body: Any) -> list[XEvent]:
    """Every event of an Account Activity webhook body."""
    if not isinstance(body, Mapping) or not body.get("for_user_id"):
        raise MalformedWebhook("missing for_user_id")
    for_user_id = str(body["for_user_id"])
    events: list[XEvent] = []
    for kind in EVENTS.kinds(body):
        if kind not in PARSERS:
            events.append(EVENTS.skipped(kind, Ignored, Unsupported)("", for_user_id, raw=body, kind=kind))
        elif not isinstance(body[kind], list):
            raise MalformedWebhook(f"{kind} must be a list")
        else:
            events += PARSERS[kind](for_user_id, body)
    return events
