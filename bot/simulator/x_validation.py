"""Checks of the fake X's requests, as X makes them: pure functions, request in, `XProblem` out.

DMs: https://docs.x.com/x-api/direct-messages/manage/integrate (text and/or one attachment; the media
must be the sender's own upload, less than 24 hours old). Media: https://docs.x.com/x-api/media/
quickstart/best-practices (media_category is required on v2; dm_image/dm_gif for DMs; images 5 MB).
Replies (`POST /2/tweets`): https://docs.x.com/x-api/posts/manage-tweets/introduction, 280 characters
counted as https://developer.x.com/en/docs/counting-characters says. Hiding: `PUT /2/tweets/:id/hidden`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.simulator.const import (
    X_DM_ATTACHMENTS_MAX,
    X_DM_CATEGORIES,
    X_DM_TEXT_MAX,
    X_IMAGE_CATEGORIES,
    X_MEDIA_CATEGORIES,
    X_TWEET_TEXT_MAX,
)
from bot.simulator.x_errors import invalid_request
from bot.simulator.x_state import XMedia, XState

_ID = re.compile(r"[0-9]{1,19}")
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
# twitter-text v3: these code point ranges weigh 1, all others 2; every link weighs 23 (a t.co link).
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_LINK_WEIGHT = 23
_REPLY_KEYS = ("in_reply_to_tweet_id", "exclude_reply_user_ids")


@dataclass(frozen=True)
class DmRequest:
    """An accepted DM: its text (possibly empty) and its photo, if any."""

    participant_id: str
    text: str
    media: XMedia | None


def check_participant(participant_id: str, own_id: str) -> str:
    """The path's participant id: a user id (digits), not our own account."""
    if not _ID.fullmatch(participant_id):
        raise invalid_request(
            f"The `participant_id` path parameter value [{participant_id}] is not valid",
            {"participant_id": [participant_id]},
        )
    if participant_id == own_id:
        raise invalid_request(
            "You cannot send a Direct Message to yourself", {"participant_id": [participant_id]}
        )
    return participant_id


def validate_dm(body: Any, participant_id: str, own_id: str, x: XState) -> DmRequest:
    """Check a decoded JSON body of `POST /2/dm_conversations/with/:participant_id/messages`."""
    participant_id = check_participant(participant_id, own_id)
    if not isinstance(body, Mapping):
        raise invalid_request("The request body must be a JSON object")
    text = body.get("text")
    if "text" in body:
        if not isinstance(text, str):
            raise invalid_request("`text` must be a string", {"text": [repr(text)]})
        if not 1 <= len(text) <= X_DM_TEXT_MAX:
            raise invalid_request(
                f"`text` must be between 1 and {X_DM_TEXT_MAX} characters long (it is {len(text)})",
                {"text": [text[:80]]},
            )
    media = _attachment(body["attachments"], x) if "attachments" in body else None
    if text is None and media is None:
        raise invalid_request("One of `text` or `attachments` is required", {"text": [], "attachments": []})
    return DmRequest(participant_id, text or "", media)


def _attachment(value: Any, x: XState) -> XMedia:
    if not isinstance(value, list) or len(value) != X_DM_ATTACHMENTS_MAX:
        raise invalid_request(
            f"`attachments` must be a list of exactly {X_DM_ATTACHMENTS_MAX} item",
            {"attachments": [repr(value)]},
        )
    item = value[0]
    media_id = item.get("media_id") if isinstance(item, Mapping) else None
    if not isinstance(media_id, str) or not _ID.fullmatch(media_id):
        raise invalid_request(
            "`attachments[0].media_id` must be a media id string", {"media_id": [repr(media_id)]}
        )
    media = x.media(media_id)
    if media is None:
        raise invalid_request(
            f"media_id [{media_id}] is unknown or expired (uploads last 24 hours)", {"media_id": [media_id]}
        )
    if media.category not in X_DM_CATEGORIES:
        raise invalid_request(
            f"media_id [{media_id}] was uploaded with media_category {media.category}; "
            f"DM attachments need {' or '.join(X_DM_CATEGORIES)}",
            {"media_id": [media_id]},
        )
    return media


def check_upload(category: str | None, declared_type: str | None, actual_type: str | None) -> tuple[str, str]:
    """(media category, image type) of an upload whose sniffed type is `actual_type`; raises if bad."""
    if not category:
        raise invalid_request("`media_category` is required", {"media_category": []})
    if category not in X_MEDIA_CATEGORIES:
        raise invalid_request(
            f"The `media_category` value [{category}] is not one of {', '.join(X_MEDIA_CATEGORIES)}",
            {"media_category": [category]},
        )
    if category not in X_IMAGE_CATEGORIES:
        raise invalid_request(
            f"The simulator takes images only, not media_category {category}", {"media_category": [category]}
        )
    if actual_type is None:
        raise invalid_request("The media is not a JPEG, PNG, GIF or WebP image", {"media": []})
    if declared_type and declared_type != actual_type:
        raise invalid_request(
            f"`media_type` says {declared_type} but the file is {actual_type}",
            {"media_type": [declared_type]},
        )
    if category.endswith("_gif") and actual_type != "image/gif":
        raise invalid_request(
            f"media_category {category} needs a GIF, the file is {actual_type}",
            {"media_category": [category]},
        )
    return category, actual_type


@dataclass(frozen=True)
class ReplyRequest:
    """An accepted reply: its text and the tweet it answers."""

    text: str
    in_reply_to: str


def tweet_length(text: str) -> int:
    """The length X counts: links weigh 23, most Latin and punctuation 1, the rest (CJK, emoji) 2.

    Emoji sequences joined by U+200D count per code point here; twitter-text counts each as 2.
    """
    length = 0
    position = 0
    for match in _URL.finditer(text):
        length += _weight(text[position : match.start()]) + _LINK_WEIGHT
        position = match.end()
    return length + _weight(text[position:])


def _weight(text: str) -> int:
    return sum(1 if any(low <= ord(c) <= high for low, high in _LIGHT_RANGES) else 2 for c in text)


def validate_reply(body: Any) -> ReplyRequest:
    """Check a decoded JSON body of `POST /2/tweets`; the simulator takes text replies only."""
    if not isinstance(body, Mapping):
        raise invalid_request("The request body must be a JSON object")
    unsupported = sorted(set(body) - {"text", "reply"})
    if unsupported:
        raise invalid_request(
            f"The simulator takes `text` and `reply` only, not {', '.join(unsupported)}",
            {name: [] for name in unsupported},
        )
    text = body.get("text")
    if not isinstance(text, str):
        raise invalid_request("`text` must be a string", {"text": [repr(text)]})
    length = tweet_length(text)
    if not 1 <= length <= X_TWEET_TEXT_MAX:
        raise invalid_request(
            f"`text` must be between 1 and {X_TWEET_TEXT_MAX} characters long as X counts them "
            f"(it is {length})",
            {"text": [text[:80]]},
        )
    reply = body.get("reply")
    if reply is None:
        raise invalid_request(
            "The simulator takes replies only: give reply.in_reply_to_tweet_id", {"reply": []}
        )
    if not isinstance(reply, Mapping) or "in_reply_to_tweet_id" not in reply:
        raise invalid_request(
            "$.reply.in_reply_to_tweet_id: is missing but it is required", {"$.reply": [repr(reply)]}
        )
    extra = sorted(set(reply) - set(_REPLY_KEYS))
    if extra:
        raise invalid_request(f"Unknown `reply` fields: {', '.join(extra)}", {"reply": extra})
    target = reply["in_reply_to_tweet_id"]
    if not isinstance(target, str) or not _ID.fullmatch(target):
        raise invalid_request(
            f"The `in_reply_to_tweet_id` value [{target}] is not valid",
            {"in_reply_to_tweet_id": [repr(target)]},
        )
    return ReplyRequest(text, target)


def validate_hidden(body: Any, tweet_id: str) -> bool:
    """Check `PUT /2/tweets/:id/hidden`: a tweet id and `{"hidden": true|false}`; the wanted state."""
    if not _ID.fullmatch(tweet_id):
        raise invalid_request(f"The `id` path parameter value [{tweet_id}] is not valid", {"id": [tweet_id]})
    if not isinstance(body, Mapping) or not isinstance(body.get("hidden"), bool):
        raise invalid_request("`hidden` (true or false) is required", {"hidden": []})
    if set(body) != {"hidden"}:
        extra = sorted(set(body) - {"hidden"})
        raise invalid_request(f"Unknown fields: {', '.join(extra)}", {name: [] for name in extra})
    return body["hidden"]
