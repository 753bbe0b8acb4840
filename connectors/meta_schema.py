"""The declared shape of a Messenger Platform webhook body (Messenger and Instagram), checked first.

`validate_body` runs on the decoded body before anything else reads it. A body that is not the
platform's envelope (`object` of this channel, `entry` a list) is refused whole (`MalformedWebhook`,
a 400); an entry or `messaging[]` / `standby[]` item of the wrong shape is left out and reported, and
the rest of the batch goes on. The models list every field `meta_events` reads, with its type.
https://developers.facebook.com/docs/messenger-platform/webhooks#event-notifications
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from pydantic import Field, StrictBool, ValidationError

from connectors.meta_events import MalformedWebhook
from connectors.schema_base import Checked, Model, MsTimestamp, PlatformId, Text, cleaned, problems


class Party(Model):
    """`sender` / `recipient`."""

    id: PlatformId


class Story(Model):
    """An Instagram story a message replies to or mentions."""

    id: Optional[PlatformId]
    url: Optional[Text]


class ReplyTo(Model):
    """`message.reply_to`."""

    mid: Optional[Text]
    story: Optional[Story]


class QuickReply(Model):
    """`message.quick_reply`."""

    payload: Optional[Text]


class AttachmentPayload(Model):
    """`message.attachments[].payload`."""

    url: Optional[Text]
    sticker_id: Optional[PlatformId]


class Attachment(Model):
    """`message.attachments[]`."""

    type: Optional[Text]
    payload: Optional[AttachmentPayload]


class Message(Model):
    """`message`: text, quick reply, attachments, sticker, story reply, echo, deletion."""

    mid: Optional[Text]
    text: Optional[Text]
    is_echo: Optional[StrictBool]
    app_id: Optional[PlatformId]
    is_deleted: Optional[StrictBool]
    is_unsupported: Optional[StrictBool]
    quick_reply: Optional[QuickReply]
    reply_to: Optional[ReplyTo]
    attachments: Optional[list[Attachment]]
    sticker_id: Optional[PlatformId]


class Referral(Model):
    """`referral` (an m.me / ig.me link, an ad, an Instagram story mention)."""

    ref: Optional[Text]
    source: Optional[Text]
    type: Optional[Text]
    story: Optional[Story]


class Postback(Model):
    """`postback`: a button or Get Started."""

    mid: Optional[Text]
    title: Optional[Text]
    payload: Optional[Text]
    referral: Optional[Referral]


class ThreadControl(Model):
    """`pass_thread_control` / `take_thread_control` / `request_thread_control`."""

    new_owner_app_id: Optional[PlatformId]
    previous_owner_app_id: Optional[PlatformId]
    requested_owner_app_id: Optional[PlatformId]
    metadata: Optional[Text]


class Item(Model):
    """One `messaging[]` or `standby[]` item. Every item has both ids and a time (for the age limit)."""

    sender: Party
    recipient: Party
    timestamp: MsTimestamp
    message: Optional[Message]
    postback: Optional[Postback]
    referral: Optional[Referral]
    pass_thread_control: Optional[ThreadControl]
    take_thread_control: Optional[ThreadControl]
    request_thread_control: Optional[ThreadControl]


class Author(Model):
    """`from` of a comment: Facebook gives a name, Instagram a username."""

    id: PlatformId
    name: Optional[Text]
    username: Optional[Text]


class PostRef(Model):
    """`post` (Facebook) or `media` (Instagram): what a comment is under."""

    id: PlatformId
    permalink_url: Optional[Text]
    media_product_type: Optional[Text]


class FeedChange(Model):
    """`changes[].value` of a Page `feed` change: comments (and posts, likes, ... which we ignore).

    https://developers.facebook.com/docs/graph-api/webhooks/reference/page/#feed
    """

    item: Text
    verb: Text
    comment_id: Optional[PlatformId]
    post_id: Optional[PlatformId]
    parent_id: Optional[PlatformId]
    message: Optional[Text]
    photo: Optional[Text]
    created_time: Optional[MsTimestamp]  # seconds, despite the type's name (same bounds)
    post: Optional[PostRef]
    # `from` is a Python keyword: declared with an alias
    author: Optional[Author] = Field(None, alias="from")


class InstagramComment(Model):
    """`changes[].value` of an Instagram `comments` change.

    https://developers.facebook.com/docs/instagram-platform/webhooks/examples
    """

    id: PlatformId
    text: Optional[Text]
    parent_id: Optional[PlatformId]
    media: PostRef
    author: Author = Field(..., alias="from")


class InstagramMention(Model):
    """`changes[].value` of an Instagram `mentions` change: only ids; the rest is fetched."""

    media_id: PlatformId
    comment_id: Optional[PlatformId]


CHANGE_VALUES: dict[str, type[Model]] = {
    "feed": FeedChange,
    "comments": InstagramComment,
    "mentions": InstagramMention,
}


def validate_body(body: Any, expected_object: str) -> Checked:
    """The body with malformed entries and items left out; `MalformedWebhook` if it is not an envelope."""
    if not isinstance(body, Mapping) or body.get("object") != expected_object:
        raise MalformedWebhook(f"expected object {expected_object!r}")
    entries = body.get("entry")
    if not isinstance(entries, list):
        raise MalformedWebhook("entry must be a list")
    checked = Checked({"object": expected_object, "entry": []})
    for e, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            checked.rejected.append(f"entry[{e}] is not an object")
            continue
        kept = {k: v for k, v in entry.items() if k not in ("messaging", "standby", "changes")}
        if "changes" in entry:
            kept["changes"] = _changes(entry, f"entry[{e}]", checked)
        for key in ("messaging", "standby"):
            if key not in entry:
                continue
            items = entry[key]
            if not isinstance(items, list):
                checked.rejected.append(f"entry[{e}].{key} is not a list")
                continue
            kept[key] = [
                item for i, raw in enumerate(items) if (item := _item(raw, f"entry[{e}].{key}[{i}]", checked))
            ]
        checked.body["entry"].append(kept)
    return checked


def _changes(entry: Mapping[str, Any], where: str, checked: Checked) -> list[dict[str, Any]]:
    """The well-formed `changes[]` of an entry; an entry with changes must name our account (`id`)."""
    changes = entry["changes"]
    if not isinstance(changes, list):
        checked.rejected.append(f"{where}.changes is not a list")
        return []
    try:
        PlatformId.validate(entry.get("id"))
    except (TypeError, ValueError) as err:
        checked.rejected.append(f"{where}.id: {err}")
        return []
    try:
        if entry.get("time") is not None:
            MsTimestamp.validate(entry["time"])
    except (TypeError, ValueError) as err:
        checked.rejected.append(f"{where}.time: {err}")
        return []
    kept = []
    for i, change in enumerate(changes):
        if not isinstance(change, Mapping) or not isinstance(change.get("field"), str):
            checked.rejected.append(f"{where}.changes[{i}] is not a change with a field")
            continue
        model = CHANGE_VALUES.get(change["field"])
        if model is None:  # a field we do not subscribe to: kept, and the parser logs it as unsupported
            kept.append(dict(change))
            continue
        try:
            value = model.parse_obj(change.get("value"))
        except ValidationError as err:
            checked.rejected.append(f"{where}.changes[{i}].value: {problems(err)}")
            continue
        kept.append({"field": change["field"], "value": value.dict(exclude_none=True, by_alias=True)})
    return kept


def _item(raw: Any, where: str, checked: Checked) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        checked.rejected.append(f"{where} is not an object")
        return None
    try:
        return cleaned(Item.parse_obj(raw))
    except ValidationError as err:
        checked.rejected.append(f"{where}: {problems(err)}")
        return None
