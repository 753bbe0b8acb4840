"""Instagram mentions a customer makes: their own photo post, or a comment on another account's post.

`POST /_sim/public_comment` with `"mention"` lands here (through public_control.py). Either way the
text gets `@loomandco` in front unless it names the account already, and Meta's `mentions` webhook
names only ids; our service reads the rest through the fake Graph (graph_mentions.py).
https://developers.facebook.com/docs/instagram-platform/instagram-api-with-facebook-login/mentions
"""

from __future__ import annotations

import re

from bot.simulator.const import (
    COMMENT_TEXT_LIMIT,
    IG_OTHER_ACCOUNT_ID,
    IG_OTHER_CAPTION,
    IG_OTHER_USERNAME,
    IG_USERNAME,
    INSTAGRAM,
)
from bot.simulator.public_payloads import instagram_mention_webhook
from bot.simulator.public_state import MENTION, POST, Author, PublicItem, PublicState

CAPTION_MENTION = "caption"
COMMENT_MENTION = "comment"
MENTION_KINDS = (CAPTION_MENTION, COMMENT_MENTION)
_ID = re.compile(r"[0-9]{1,20}")
# `@loomandco` as a whole handle (Instagram usernames: letters, digits, periods, underscores).
_BRAND = re.compile(rf"(?<![\w.])@{re.escape(IG_USERNAME)}(?![\w]|\.\w)", re.IGNORECASE)
_OTHER_MEDIA_AGE = 2 * 3600.0


class MentionRefused(ValueError):
    """A mention the simulator cannot make (the message says why)."""


def with_brand(text: str) -> str:
    """The text as posted: `@loomandco` put in front unless the text mentions the account already."""
    if _BRAND.search(text):
        return text
    return f"@{IG_USERNAME} {text}".rstrip()


def permalink(username: str | None, media_id: str) -> str:
    """A media's Instagram URL, in the form the brand's seeded media use."""
    return f"https://www.instagram.com/{username}/p/{media_id}/"


def add_mention(
    public: PublicState,
    ig_id: str,
    kind: str,
    author: Author,
    text: str,
    photo: str | None,
    stock_photo: str,
    given_id: str | None = None,
) -> PublicItem:
    """Keep a new caption or comment mention (with its webhook) and return it.

    `photo` is the customer's post for a caption mention (required), the other account's post for a
    comment mention (`stock_photo` when none); `given_id` is the new media or comment id, if chosen.
    """
    if kind not in MENTION_KINDS:
        raise MentionRefused(f"mention must be one of {', '.join(MENTION_KINDS)}")
    if given_id is not None and not _ID.fullmatch(given_id):
        raise MentionRefused("comment_id must be digits on instagram")
    text = with_brand(text)
    limit = COMMENT_TEXT_LIMIT[INSTAGRAM]
    if len(text) > limit:
        raise MentionRefused(f"text (with @{IG_USERNAME}) must be at most {limit} characters on instagram")
    now = public.clock()
    if kind == CAPTION_MENTION:
        if photo is None:
            raise MentionRefused("a caption mention is a photo post: give image_urls (one /_sim/media URL)")
        media_id = given_id or public.new_media_id()
        item = PublicItem(INSTAGRAM, MENTION, media_id, media_id, None, author, text, now, False, photo)
        item.permalink = permalink(author.username, media_id)
    else:
        media = _other_media(public, photo or stock_photo, now)
        comment_id = given_id or public.new_comment_id(media)
        item = PublicItem(INSTAGRAM, MENTION, comment_id, media.id, media.id, author, text, now, False)
    item.webhook = instagram_mention_webhook(ig_id, item, now)
    return public.add(item)


def _other_media(public: PublicState, photo: str, now: float) -> PublicItem:
    """Another account's photo post for a comment mention to sit on (a new one each time)."""
    media_id = public.new_media_id()
    author = Author(IG_OTHER_ACCOUNT_ID, username=IG_OTHER_USERNAME)
    when = now - _OTHER_MEDIA_AGE
    media = PublicItem(INSTAGRAM, POST, media_id, media_id, None, author, IG_OTHER_CAPTION, when, False)
    media.photo = photo
    media.permalink = permalink(IG_OTHER_USERNAME, media_id)
    return public.add(media)
