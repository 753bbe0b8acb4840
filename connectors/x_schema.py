"""The declared shape of an X Account Activity webhook body, checked before anything reads it.

A body without `for_user_id`, or whose `direct_message_events` / `tweet_create_events` is not a list, is
refused whole (`MalformedWebhook`, a 400). A DM event, tweet or `users` entry of the wrong shape is left
out and reported; the rest of the body goes on. The models list every field `x_events` reads.
https://docs.x.com/x-api/account-activity/introduction
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from pydantic import BaseModel, StrictInt, ValidationError, root_validator

from connectors.schema_base import Checked, Model, MsTimestamp, PlatformId, Text, cleaned, problems
from connectors.x_events import MalformedWebhook

LISTS = ("direct_message_events", "tweet_create_events")


class User(Model):
    """A profile in the `users` map, or a tweet's author."""

    id: Optional[PlatformId]
    id_str: Optional[PlatformId]
    name: Optional[Text]
    screen_name: Optional[Text]
    profile_image_url_https: Optional[Text]  # shown to agents through the desk's proxy only
    followers_count: Optional[StrictInt]


class Media(Model):
    """`attachment.media` of a DM."""

    type: Optional[Text]
    media_url_https: Optional[Text]
    media_url: Optional[Text]


class DmAttachment(Model):
    """`message_data.attachment`."""

    type: Optional[Text]
    media: Optional[Media]


class QuickReplyResponse(Model):
    """`message_data.quick_reply_response`."""

    type: Optional[Text]
    metadata: Optional[Text]


class MessageData(Model):
    """`message_create.message_data`."""

    text: Optional[Text]
    quick_reply_response: Optional[QuickReplyResponse]
    attachment: Optional[DmAttachment]


class Target(Model):
    """`message_create.target`."""

    recipient_id: Optional[PlatformId]


class MessageCreate(Model):
    """`message_create`: who sent it to whom, and what."""

    sender_id: PlatformId
    target: Optional[Target]
    message_data: Optional[MessageData]


class DmEvent(Model):
    """One `direct_message_events[]` item; `message_create` is required when that is its type."""

    type: Text
    id: PlatformId
    created_timestamp: MsTimestamp
    message_create: Optional[MessageCreate]

    @root_validator(skip_on_failure=True)
    def _message_create_present(cls, values: dict[str, Any]) -> dict[str, Any]:
        if values.get("type") == "message_create" and values.get("message_create") is None:
            raise ValueError("message_create event without message_create")
        return values


class UserMention(Model):
    """`entities.user_mentions[]`."""

    id: Optional[PlatformId]
    id_str: Optional[PlatformId]


class Entities(Model):
    """`entities` (or `extended_entities`) of a tweet."""

    user_mentions: Optional[list[UserMention]]
    media: Optional[list[Media]]


class ExtendedTweet(Model):
    """`extended_tweet` (tweets longer than 140 characters)."""

    full_text: Optional[Text]


class Tweet(Model):
    """One `tweet_create_events[]` item."""

    id: Optional[PlatformId]
    id_str: Optional[PlatformId]
    user: User
    entities: Optional[Entities]
    extended_entities: Optional[Entities]
    extended_tweet: Optional[ExtendedTweet]
    full_text: Optional[Text]
    text: Optional[Text]
    created_at: Optional[Text]
    in_reply_to_status_id_str: Optional[PlatformId]
    timestamp_ms: Optional[MsTimestamp]

    @root_validator(skip_on_failure=True)
    def _ids_present(cls, values: dict[str, Any]) -> dict[str, Any]:
        user = values.get("user")
        if not (values.get("id") or values.get("id_str")) or not (user and (user.id or user.id_str)):
            raise ValueError("tweet without an id or without its author's id")
        return values


ITEM_MODELS: dict[str, type[BaseModel]] = {"direct_message_events": DmEvent, "tweet_create_events": Tweet}


def validate_body(body: Any) -> Checked:
    """The body with malformed items and profiles left out; `MalformedWebhook` if it is not X's envelope."""
    if not isinstance(body, Mapping):
        raise MalformedWebhook("not an object")
    try:
        for_user_id = PlatformId.validate(body.get("for_user_id"))
    except (TypeError, ValueError) as err:
        raise MalformedWebhook("missing or malformed for_user_id") from err
    checked = Checked({**body, "for_user_id": for_user_id})
    for key in LISTS:
        if key in body and not isinstance(body[key], list):
            raise MalformedWebhook(f"{key} must be a list")
        if key in body:
            checked.body[key] = [
                item for i, raw in enumerate(body[key]) if (item := _item(key, i, raw, checked))
            ]
    if "users" in body:
        checked.body["users"] = _users(body["users"], checked)
    return checked


def _item(key: str, index: int, raw: Any, checked: Checked) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        checked.rejected.append(f"{key}[{index}] is not an object")
        return None
    try:
        return cleaned(ITEM_MODELS[key].parse_obj(raw))
    except ValidationError as err:
        checked.rejected.append(f"{key}[{index}]: {problems(err)}")
        return None


def _users(users: Any, checked: Checked) -> dict[str, Any]:
    """The `users` map with malformed profiles left out (a DM then goes on without the sender's name)."""
    if not isinstance(users, Mapping):
        checked.rejected.append("users is not an object")
        return {}
    kept = {}
    for user_id, profile in users.items():
        try:
            kept[user_id] = cleaned(User.parse_obj(profile))
        except (ValidationError, TypeError):
            checked.rejected.append(f"users[{user_id!r}] malformed")
    return kept
