"""Our message-metadata contract: every key a connector puts on a Rasa message, and typed readers for it.

Rasa stores a message's `metadata` as it gets it, and every consumer (actions, desk, monitoring) reads
it back from JSON it did not write: so the keys are declared once here, connectors build metadata
through these declarations, and consumers read it through the readers, which check each value's shape
(a tracker may hold anything a channel, an older version, or Rasa's HTTP API once wrote). Stdlib only:
the connectors (Rasa's runtime, Python 3.10) import this module.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypedDict

logger = logging.getLogger(__name__)

AGENT = "agent"  # `author` of a desk agent's reply
HUMAN_AGENT = "human_agent"  # `author` of a reply a person wrote in Meta's own inbox
X_OAUTH1 = "x_oauth1"  # `image_auth`: X serves DM media only to OAuth-1.0a-signed requests from our account


class CustomerMetadata(TypedDict, total=False):
    """What a connector attaches to a customer's message (`UserMessage.metadata`, the `user` event)."""

    platform: str  # the platform that delivered it: messenger, instagram, twitter
    kind: str  # what was sent: text, quick_reply, postback, image, sticker, story_reply, numbered_option...
    mid: str | None  # the platform's message id (also `message_id`): the replay check's key
    sender_name: str | None  # X: the sender's display name
    sender_screen_name: str | None  # X: the sender's @handle, without the @
    sender_picture: str | None  # X: the sender's profile picture URL (shown only through the desk's proxy)
    title: str | None  # the button or quick reply the customer tapped (the text is its payload)
    caption: str  # the text sent with a photo
    image_urls: list[str]  # photos the customer sent (shown to agents through the desk's proxy)
    image_auth: str  # how to fetch `image_urls` when they need our credentials (X_OAUTH1)
    sticker_id: str  # Messenger: the sticker (a thumbs up is read as a yes)
    story_id: str | None  # Instagram: the story the customer replied to
    story_url: str | None  # Instagram: the story's media (replied to, or mentioned in)
    attachment_types: list[str]  # attachments the bot cannot read (audio, video, file...)
    referral: dict[str, Any]  # Messenger: the ad or link that opened the conversation (postbacks)
    is_external: bool  # set by Rasa itself on intents triggered through its HTTP API, never by us


class UtteranceMetadata(TypedDict, total=False):
    """What we attach to a `bot` event that a person, not the bot, said."""

    author: str  # AGENT (the desk) or HUMAN_AGENT (Meta's inbox); absent: the bot said it
    agent_id: int | str  # the desk agent who wrote it
    agent_name: str  # their name, shown in the transcript
    client_id: str  # the desk's idempotency key for the reply
    mids: list[str]  # the platform message ids of the pieces sent
    partial: bool  # only the first pieces went out (the platform refused the rest)
    source: str  # where a person outside the desk wrote it: "meta_inbox"
    app_id: str | None  # Meta: the app that sent it (not ours)
    mid: str | None  # Meta: the echo's message id: the replay check's key


CUSTOMER_KEYS = frozenset(CustomerMetadata.__annotations__)


def customer_metadata(
    platform: str, kind: str, mid: str | None, extra: Mapping[str, Any] | None = None
) -> CustomerMetadata:
    """A customer message's metadata: the declared keys only, so nothing undeclared reaches a tracker."""
    metadata = CustomerMetadata(platform=platform, kind=kind, mid=mid)
    for key, value in (extra or {}).items():
        if key in CUSTOMER_KEYS:
            metadata[key] = value  # type: ignore[literal-required]
        else:
            logger.warning("metadata key %r is not declared in bot/conversations/metadata.py; dropped", key)
    return metadata


def _mapping(metadata: Any) -> Mapping[str, Any]:
    return metadata if isinstance(metadata, Mapping) else {}


def _text(metadata: Any, key: str) -> str | None:
    value = _mapping(metadata).get(key)
    return value if isinstance(value, str) and value else None


def image_urls(metadata: Any) -> tuple[str, ...]:
    """The photos' URLs: only a list of non-empty strings counts (anything else shows none)."""
    value = _mapping(metadata).get("image_urls")
    if not isinstance(value, list):
        return ()
    return tuple(url for url in value if isinstance(url, str) and url)


def image_auth(metadata: Any) -> str | None:
    """How the photos must be fetched (X_OAUTH1), or None for a plain GET."""
    return _text(metadata, "image_auth")


def screen_name(metadata: Any) -> str | None:
    """The sender's @handle, without the @ (X only)."""
    return _text(metadata, "sender_screen_name")


def sender_name(metadata: Any) -> str | None:
    """The sender's display name, when the platform tells us."""
    return _text(metadata, "sender_name")


def sender_picture(metadata: Any) -> str | None:
    """The sender's profile picture URL, when the platform sends it with the message (X)."""
    value = _text(metadata, "sender_picture")
    return value if value is not None and value.startswith(("https://", "http://")) else None


def customer_label(metadata: Any) -> str | None:
    """How to name the customer: "@handle" where there is one, else their name, else None."""
    handle = screen_name(metadata)
    return f"@{handle}" if handle else sender_name(metadata)


def shown_text(metadata: Any) -> str | None:
    """What the customer saw of a message whose text is a payload: the button's title, or a caption."""
    return _text(metadata, "title") or _text(metadata, "caption")


def marked_external(metadata: Any) -> bool:
    """Rasa's own mark on an intent triggered through its HTTP API."""
    return bool(_mapping(metadata).get("is_external"))


def author(metadata: Any) -> str | None:
    """Who wrote a `bot` event when a person did (AGENT, HUMAN_AGENT); None: the bot."""
    value = _text(metadata, "author")
    return value if value in (AGENT, HUMAN_AGENT) else None


def agent_name(metadata: Any) -> str | None:
    """The desk agent's name on their reply."""
    return _text(metadata, "agent_name")


def source(metadata: Any) -> str | None:
    """Where a person outside the desk wrote a reply ("meta_inbox")."""
    return _text(metadata, "source")


def mid(metadata: Any) -> str | None:
    """The platform message id an event carries in its metadata."""
    return _text(metadata, "mid")
