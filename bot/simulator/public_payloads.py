"""What Meta sends about public comments: Page `feed` and Instagram `comments` webhook bodies.

Shapes follow https://developers.facebook.com/docs/graph-api/webhooks/reference/page/#feed (a `changes`
item with `item: comment`, `verb: add`; `parent_id` is the post for a top-level comment, else the
comment answered) and https://developers.facebook.com/docs/instagram-platform/webhooks (`comments`:
`id`, `text`, `from` with `username`, `media`, `parent_id` only for replies). Both carry the entry's
`time` in seconds, unlike messaging webhooks (milliseconds). Comments by the Page or the Instagram
account itself arrive the same way, with `from.id` the account's own id. Instagram `mentions` carry
ids only (`media_id`, and `comment_id` for a comment), as in the webhooks reference
(https://developers.facebook.com/docs/graph-api/webhooks/reference/instagram). Pure functions.
"""

from __future__ import annotations

import time
from typing import Any

from bot.simulator.const import WEBHOOK_OBJECT
from bot.simulator.public_state import PublicItem


def graph_time(epoch_seconds: float) -> str:
    """Graph's date format, e.g. `2026-01-20T10:15:00+0000`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(epoch_seconds))


def facebook_comment_webhook(
    page_id: str, comment: PublicItem, post: PublicItem, now: float
) -> dict[str, Any]:
    """A Page `feed` webhook for a new comment (or reply) under `post`; a photo alone has no message."""
    value: dict[str, Any] = {
        "item": "comment",
        "verb": "add",
        "comment_id": comment.id,
        "post_id": post.id,
        "parent_id": comment.parent_id,
        "from": {"id": comment.author.id, "name": comment.author.name},
    }
    if comment.text:
        value["message"] = comment.text
    value["created_time"] = int(comment.created_at)
    if comment.photo:
        value["photo"] = comment.photo
    value["post"] = {
        "id": post.id,
        "permalink_url": post.permalink,
        "status_type": post.status_type,
        "is_published": True,
        "updated_time": graph_time(now),
        "promotion_status": "inactive",
    }
    entry = {"id": page_id, "time": int(now), "changes": [{"field": "feed", "value": value}]}
    return {"object": WEBHOOK_OBJECT["messenger"], "entry": [entry]}


def instagram_comment_webhook(ig_id: str, comment: PublicItem, now: float) -> dict[str, Any]:
    """An Instagram `comments` webhook for a new comment (or reply) under the media `comment.post_id`."""
    value: dict[str, Any] = {
        "id": comment.id,
        "text": comment.text,
        "from": {"id": comment.author.id, "username": comment.author.username},
        "media": {"id": comment.post_id, "media_product_type": "FEED"},
    }
    if comment.parent_id != comment.post_id:
        value["parent_id"] = comment.parent_id
    entry = {"id": ig_id, "time": int(now), "changes": [{"field": "comments", "value": value}]}
    return {"object": WEBHOOK_OBJECT["instagram"], "entry": [entry]}


def instagram_mention_webhook(ig_id: str, mention: PublicItem, now: float) -> dict[str, Any]:
    """An Instagram `mentions` webhook: the media, and for a comment mention the comment; nothing else."""
    value = {"media_id": mention.post_id}
    if mention.parent_id is not None:
        value["comment_id"] = mention.id
    entry = {"id": ig_id, "time": int(now), "changes": [{"field": "mentions", "value": value}]}
    return {"object": WEBHOOK_OBJECT["instagram"], "entry": [entry]}
