"""Meta Messenger Platform webhooks (Messenger and Instagram) parsed into typed events.

A webhook body holds `entry[]`, each with `messaging[]` (we own the conversation) or `standby[]`
(another app owns it). Every item becomes exactly one event: handled kinds through `PARSERS`, the kinds
we deliberately ignore through `IGNORED`, and anything else as `Unsupported`, which is logged.
Reference: https://developers.facebook.com/docs/messenger-platform/webhooks and
https://developers.facebook.com/docs/messenger-platform/instagram/features/webhook
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.webhook_events import EventTable, InboundEvent, MalformedWebhook, SkippedEvent

LIKE_STICKER_IDS = {"369239263222822", "369239343222814", "369239383222810"}  # small, medium, large thumbs up


@dataclass(frozen=True)
class MetaEvent(InboundEvent):
    """What every event has: where it came from, who sent it, when, and the raw item."""

    platform: str
    sender_id: str
    recipient_id: str
    timestamp: int  # milliseconds since the epoch, as Meta sends it

    @property
    def dedupe_key(self) -> str:
        """Identity of the event across redeliveries (the message id where there is one)."""
        parts = [self.raw.get(key) for key in ("message", "postback")]  # a feed change's `message` is text
        mid = next((part["mid"] for part in parts if isinstance(part, Mapping) and part.get("mid")), None)
        return mid or f"{type(self).__name__}:{self.sender_id}:{self.timestamp}"


@dataclass(frozen=True)
class CustomerMessage(MetaEvent):
    """Something the customer sent that the bot should answer.

    `text` is what the assistant reads (the message text, a button payload, or an `/intent` for
    content without text); `kind` says what it was; `metadata` carries what the text cannot
    (image URLs, sticker id, story link, referral).
    """

    kind: str = "text"
    text: str = ""
    mid: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Comment(MetaEvent):
    """A comment under one of our posts (Facebook `feed`, Instagram `comments`): public, not a chat.

    sender = the commenter, recipient = our account (the Page or the Instagram account).
    `parent_id` is the comment it answers, None for a comment on the post itself.
    """

    comment_id: str = ""
    post_id: str = ""
    parent_id: str | None = None
    text: str = ""
    photo_url: str | None = None
    author_name: str = ""
    permalink: str = ""

    @property
    def dedupe_key(self) -> str:
        """The comment id: Meta's redeliveries and edits of it are one item."""
        return f"comment:{self.comment_id}"


@dataclass(frozen=True)
class InstagramMention(MetaEvent):
    """Someone @mentioned our Instagram account in their media's caption or in a comment (ids only).

    The text, author and photo are fetched when the event is handled (Graph's `mentioned_media` /
    `mentioned_comment`); recipient = our account.
    """

    media_id: str = ""
    comment_id: str | None = None

    @property
    def item_id(self) -> str:
        """The mentioning comment, or the media whose caption mentions us."""
        return self.comment_id or self.media_id

    @property
    def dedupe_key(self) -> str:
        """One item per mentioning comment or caption."""
        return f"mention:{self.item_id}"


@dataclass(frozen=True)
class Echo(MetaEvent):
    """A message the Page sent (ours, or a person in Meta's inbox, or another app). sender = Page."""

    mid: str | None = None
    app_id: str | None = None
    text: str = ""

    @property
    def customer_id(self) -> str:
        """Echoes go from the Page to the customer."""
        return self.recipient_id


@dataclass(frozen=True)
class Handover(MetaEvent):
    """Thread control moved between apps (handover protocol)."""

    action: str = ""  # pass_thread_control | take_thread_control | request_thread_control
    new_owner_app_id: str | None = None
    previous_owner_app_id: str | None = None


@dataclass(frozen=True)
class Standby(MetaEvent):
    """An event while another app owns the conversation: recorded, never answered."""

    inner: MetaEvent | None = None


@dataclass(frozen=True)
class Ignored(MetaEvent, SkippedEvent):
    """A kind we receive and deliberately do nothing with (reads, deliveries, reactions)."""


@dataclass(frozen=True)
class Unsupported(MetaEvent, SkippedEvent):
    """A kind we do not know. Logged, acknowledged, not answered."""


def _ids(platform: str, item: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return {
            "platform": platform,
            "sender_id": str(item["sender"]["id"]),
            "recipient_id": str(item["recipient"]["id"]),
            "timestamp": int(item.get("timestamp") or 0),
            "raw": item,
        }
    except (KeyError, TypeError, ValueError) as err:
        raise MalformedWebhook(f"messaging item without sender/recipient id: {err}") from err


def _image_urls(attachments: list[Mapping[str, Any]]) -> list[str]:
    return [
        a["payload"]["url"]
        for a in attachments
        if a.get("type") == "image" and a.get("payload", {}).get("url")
    ]


def parse_message(platform: str, item: Mapping[str, Any]) -> MetaEvent:
    """`message`: text, quick reply, attachments, stickers, story mentions and replies, echoes."""
    message = item["message"]
    base = _ids(platform, item)
    mid = message.get("mid")
    if message.get("is_echo"):
        app_id = message.get("app_id")
        return Echo(
            **base, mid=mid, app_id=str(app_id) if app_id is not None else None, text=message.get("text", "")
        )
    if message.get("is_deleted") or message.get("is_unsupported"):
        return Ignored(**base, kind="deleted" if message.get("is_deleted") else "unsupported_message")
    text = message.get("text") or ""
    if "quick_reply" in message:
        payload = str(message["quick_reply"].get("payload") or text)
        return CustomerMessage(**base, kind="quick_reply", text=payload, mid=mid, metadata={"title": text})
    story = (message.get("reply_to") or {}).get("story")
    if story:
        metadata = {"story_id": story.get("id"), "story_url": story.get("url")}
        return CustomerMessage(**base, kind="story_reply", text=text, mid=mid, metadata=metadata)
    attachments = list(message.get("attachments") or [])
    types = {a.get("type") for a in attachments}
    if "story_mention" in types:
        url = next(a.get("payload", {}).get("url") for a in attachments if a.get("type") == "story_mention")
        return CustomerMessage(
            **base, kind="story_mention", text="/story_mention", mid=mid, metadata={"story_url": url}
        )
    sticker_id = message.get("sticker_id")
    if sticker_id is not None:
        sticker = str(sticker_id)
        liked = sticker in LIKE_STICKER_IDS
        return CustomerMessage(
            **base, kind="like" if liked else "sticker", text="👍" if liked else "/share_attachment",
            mid=mid, metadata={"sticker_id": sticker},
        )  # fmt: skip
    images = _image_urls(attachments)
    if images:
        metadata = {"image_urls": images, "caption": text}
        return CustomerMessage(**base, kind="image", text=text or "/share_photo", mid=mid, metadata=metadata)
    if attachments:
        metadata = {"attachment_types": sorted(t for t in types if t)}
        return CustomerMessage(
            **base, kind="attachment", text=text or "/share_attachment", mid=mid, metadata=metadata
        )
    if text:
        return CustomerMessage(**base, kind="text", text=text, mid=mid)
    return Unsupported(**base, kind="empty_message")


def parse_postback(platform: str, item: Mapping[str, Any]) -> MetaEvent:
    """`postback`: a button or the Get Started button, possibly carrying a referral."""
    postback = item["postback"]
    payload = str(postback.get("payload") or "")
    metadata: dict[str, Any] = {"title": postback.get("title")}
    if postback.get("referral"):
        metadata["referral"] = dict(postback["referral"])
    text = "/greet" if payload.upper() in ("GET_STARTED", "") else payload
    return CustomerMessage(
        **_ids(platform, item), kind="postback", text=text, mid=postback.get("mid"), metadata=metadata
    )


def parse_referral(platform: str, item: Mapping[str, Any]) -> MetaEvent:
    """`referral`: an m.me / ig.me link or ad opened in an existing conversation.

    Instagram also sends story mentions this way (source STORY_MENTION).
    """
    referral = dict(item["referral"])
    base = _ids(platform, item)
    if str(referral.get("source", "")).upper() == "STORY_MENTION" or referral.get("type") == "story_mention":
        story = referral.get("story") or {}
        return CustomerMessage(
            **base, kind="story_mention", text="/story_mention", metadata={"story_url": story.get("url")}
        )
    return Ignored(**base, kind="referral")


def parse_handover(platform: str, item: Mapping[str, Any]) -> MetaEvent:
    """`pass_thread_control` / `take_thread_control` / `request_thread_control`."""
    action = next(key for key in HANDOVER_KEYS if key in item)
    body = item[action] or {}
    owner = body.get("new_owner_app_id")
    previous = body.get("previous_owner_app_id") or body.get("requested_owner_app_id")
    return Handover(
        **_ids(platform, item),
        action=action,
        new_owner_app_id=str(owner) if owner is not None else None,
        previous_owner_app_id=str(previous) if previous is not None else None,
    )


def parse_feed(platform: str, account_id: str, at: int, value: Mapping[str, Any]) -> MetaEvent:
    """A Page `feed` change: a new comment is kept; posts, likes, edits and removals are not answered."""
    author = value.get("from") or {}
    base = {"platform": platform, "sender_id": str(author.get("id") or ""), "recipient_id": account_id}
    item, verb = value.get("item"), value.get("verb")
    if item != "comment" or verb != "add" or not value.get("comment_id"):
        return Ignored(**base, timestamp=at, raw=value, kind=f"feed_{item}_{verb}")
    if base["sender_id"] in ("", account_id):  # our own reply, or the Page commenting as itself
        return Ignored(**base, timestamp=at, raw=value, kind="own_comment")
    post_id = str(value.get("post_id") or "")
    parent = value.get("parent_id")
    created = value.get("created_time")
    return Comment(
        **base,
        timestamp=int(created) * 1000 if created else at,
        raw=value,
        comment_id=str(value["comment_id"]),
        post_id=post_id,
        parent_id=str(parent) if parent and parent != post_id else None,
        text=str(value.get("message") or ""),
        photo_url=value.get("photo") or None,
        author_name=str(author.get("name") or ""),
        permalink=str((value.get("post") or {}).get("permalink_url") or ""),
    )


def parse_instagram_comment(platform: str, account_id: str, at: int, value: Mapping[str, Any]) -> MetaEvent:
    """An Instagram `comments` change: a comment (or a reply) under one of our media."""
    author = value.get("from") or {}
    base = {"platform": platform, "sender_id": str(author.get("id") or ""), "recipient_id": account_id}
    if base["sender_id"] == account_id:
        return Ignored(**base, timestamp=at, raw=value, kind="own_comment")
    parent = value.get("parent_id")
    return Comment(
        **base,
        timestamp=at,
        raw=value,
        comment_id=str(value["id"]),
        post_id=str((value.get("media") or {}).get("id") or ""),
        parent_id=str(parent) if parent else None,
        text=str(value.get("text") or ""),
        author_name=str(author.get("username") or ""),
    )


def parse_instagram_mention(platform: str, account_id: str, at: int, value: Mapping[str, Any]) -> MetaEvent:
    """An Instagram `mentions` change: the ids of a caption or comment that @mentions us."""
    comment = value.get("comment_id")
    return InstagramMention(
        platform=platform,
        sender_id="",  # not in the webhook: the author comes with the fetched details
        recipient_id=account_id,
        timestamp=at,
        raw=value,
        media_id=str(value["media_id"]),
        comment_id=str(comment) if comment else None,
    )


CHANGE_PARSERS: dict[str, Callable[[str, str, int, Mapping[str, Any]], MetaEvent]] = {
    "feed": parse_feed,
    "comments": parse_instagram_comment,
    "mentions": parse_instagram_mention,
}


def parse_change(platform: str, account_id: str, at: int, change: Mapping[str, Any]) -> MetaEvent:
    """One `changes[]` item (a Page's or Instagram account's public activity) to one event."""
    field_name = str(change.get("field"))
    value = change.get("value")
    if not isinstance(value, Mapping):
        raise MalformedWebhook(f"change {field_name!r} without a value object")
    parser = CHANGE_PARSERS.get(field_name)
    if parser is not None:
        return parser(platform, account_id, at, value)
    base = {"platform": platform, "sender_id": "", "recipient_id": account_id, "timestamp": at, "raw": value}
    return Unsupported(**base, kind=f"change_{field_name}")


HANDOVER_KEYS = ("pass_thread_control", "take_thread_control", "request_thread_control")
PARSERS: dict[str, Callable[[str, Mapping[str, Any]], MetaEvent]] = {
    "message": parse_message,
    "postback": parse_postback,
    "referral": parse_referral,
    **{key: parse_handover for key in HANDOVER_KEYS},
}
IGNORED = ("read", "delivery", "reaction", "message_edit", "optin", "account_linking", "policy_enforcement")
EVENTS = EventTable(PARSERS, IGNORED, envelope=frozenset({"sender", "recipient", "timestamp"}))


def parse_item(platform: str, item: Mapping[str, Any]) -> MetaEvent:
    """One `messaging[]` item to one event."""
    if not isinstance(item, Mapping):
        raise MalformedWebhook("messaging item is not an object")
    kind = EVENTS.kind(item)
    if kind in PARSERS:
        return PARSERS[kind](platform, item)
    return EVENTS.skipped(kind, Ignored, Unsupported)(**_ids(platform, item), kind=kind)


def parse_webhook(platform: str, expected_object: str, body: Any) -> list[MetaEvent]:
    """Every event of a webhook body, in the order Meta sent them."""
    if not isinstance(body, Mapping) or body.get("object") != expected_object:
        raise MalformedWebhook(f"expected object {expected_object!r}")
    entries = body.get("entry")
    if not isinstance(entries, list):
        raise MalformedWebhook("entry must be a list")
    return list(_events(platform, entries))


def _events(platform: str, entries: list[Any]) -> Iterator[MetaEvent]:
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise MalformedWebhook("entry item is not an object")
        changes = entry.get("changes", [])
        if not isinstance(changes, list):
            raise MalformedWebhook("changes must be a list")
        for change in changes:
            if not isinstance(change, Mapping):
                raise MalformedWebhook("changes item is not an object")
            at = int(entry.get("time") or 0)
            at = at * 1000 if at < 10**11 else at  # Meta sends seconds in `changes` entries, ms elsewhere
            yield parse_change(platform, str(entry.get("id") or ""), at, change)
        for key in ("messaging", "standby"):
            items = entry.get(key, [])
            if not isinstance(items, list):
                raise MalformedWebhook(f"{key} must be a list")
            for item in items:
                event = parse_item(platform, item)
                if key == "standby":
                    event = Standby(**_ids(platform, item), inner=event)
                yield event
