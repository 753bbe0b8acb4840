"""What the fake platforms remember of public activity: the brand's posts, comments, mentions and replies.

Ids take each platform's form: Facebook posts `<page_id>_<digits>` and comments `<post digits>_<digits>`;
Instagram media and comments digits; X tweets snowflakes (from `XState.new_id`, passed in). Every call to
the public fake APIs (and every private reply through the Send API) is kept as a `PublicAction`.

Instagram mentions live outside the brand's media: a caption mention is the customer's own media (a
`MENTION` at the top of its thread), a comment mention a `MENTION` comment under another account's
media (a `POST` that is not `from_brand`). The brand may answer them only through the mentions edge.

Owned by `SimState` (one app, one event loop, so no locks) and sharing its clock.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.simulator.const import (
    FACEBOOK,
    IG_USERNAME,
    INSTAGRAM,
    PAGE_NAME,
    PUBLIC_ACTIONS_KEPT,
    TWITTER,
    X_BRAND_NAME,
)

POST = "post"  # one of the brand's own posts
COMMENT = "comment"  # anything under a post (X replies too)
MENTION = "mention"  # an X tweet or Instagram caption or comment that mentions the brand (see above)
DAY = 24 * 3600.0

# The brand's posts on each platform: (id digits, text, Facebook status_type, age in days).
_FACEBOOK_POSTS = (
    ("122100000000000001", "New in: the Harbour linen shirt, in four colours.", "added_photos", 3),
    ("122100000000000002", "Winter sale starts today: 20% off all knitwear.", "added_photos", 1),
)
_INSTAGRAM_MEDIA = (
    ("17900000000000001", "The Harbour linen shirt, now in sage. #loomandco", 3),
    ("17900000000000002", "Knitwear weather. 20% off until Sunday.", 1),
)
_X_POSTS = (("1700000000000000001", "Winter sale is live: 20% off all knitwear until Sunday.", 1),)


class LookupFailed(ValueError):
    """A post or comment named in a control request is not there (the message says why)."""


@dataclass
class Author:
    """Who wrote an item: `name` on Facebook and X, `username` on Instagram (X's screen_name)."""

    id: str
    name: str | None = None
    username: str | None = None
    followers: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The author as `/_sim/public` shows it."""
        answer: dict[str, Any] = {"id": self.id, "name": self.name, "username": self.username}
        if self.followers is not None:
            answer["followers"] = self.followers
        return answer


@dataclass
class PublicItem:
    """A post, comment, reply or mention on one platform.

    `post_id` is the post (or the X mention) at the top of its thread, the item itself for a post;
    `parent_id` what it answers (None for posts and mentions). `photo` is a URL the page can show;
    `webhook` the body first delivered for it, repeated by redeliveries.
    """

    platform: str
    kind: str
    id: str
    post_id: str
    parent_id: str | None
    author: Author
    text: str
    created_at: float
    from_brand: bool
    photo: str | None = None
    hidden: bool = False
    private_reply_id: str | None = None
    webhook: dict[str, Any] | None = None
    permalink: str | None = None
    status_type: str | None = None


@dataclass
class PublicAction:
    """One call our service made to a public fake API, as it arrived, and what the fake answered.

    `own_webhook` is how the delivery of the platform's webhook for our own new comment went.
    """

    id: int
    platform: str | None
    kind: str
    target_id: str | None
    text: str | None
    time: float
    endpoint: str
    accepted: bool = False
    status: int = 0
    result_id: str | None = None
    response: dict[str, Any] = field(default_factory=dict)
    own_webhook: dict[str, Any] | None = None
    pending: bool = True

    def finish(self, status: int, response: dict[str, Any], result_id: str | None = None) -> None:
        """Record the answer (2xx means accepted)."""
        self.status = status
        self.accepted = 200 <= status < 300
        self.response = response
        self.result_id = result_id if self.accepted else None
        self.pending = False

    def to_json(self) -> dict[str, Any]:
        """The action as `GET /_sim/public_actions` lists it."""
        return {
            "id": self.id,
            "platform": self.platform,
            "kind": self.kind,
            "target_id": self.target_id,
            "text": self.text,
            "accepted": self.accepted,
            "status": self.status,
            "result_id": self.result_id,
            "response": self.response,
            "time": self.time,
            "endpoint": self.endpoint,
            "own_webhook": self.own_webhook,
        }


def _takes_comments(post: PublicItem) -> bool:
    """Customers comment through the simulator on the brand's posts, and on X in a mention's thread.

    Comments on an Instagram mention's media (the customer's or another account's) send no webhook.
    """
    if post.platform == TWITTER:
        return post.kind in (POST, MENTION)
    return post.kind == POST and post.from_brand


class PublicState:
    """Posts and comments per platform, in creation order, and the record of public API calls."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._items: dict[tuple[str, str], PublicItem] = {}
        # Ids start from the clock, as the platforms' never repeat: a restarted simulator must not hand out
        # an id our service already stored (and deduplicates) from an earlier run.
        fresh = int(clock() * 1000) * 1000
        self._numbers = {
            FACEBOOK: itertools.count(fresh),
            INSTAGRAM: itertools.count(17 * 10**16 + fresh),
        }
        self._media_numbers = itertools.count(18 * 10**16 + fresh)
        self._actions: deque[PublicAction] = deque(maxlen=PUBLIC_ACTIONS_KEPT)
        self._action_ids = itertools.count(1)

    # The brand's posts
    def seed(self, page_id: str, ig_id: str, x_user_id: str, x_screen_name: str) -> None:
        """Create the brand's posts (stable ids) unless they are there already."""
        now = self.clock()
        for digits, text, status_type, age in _FACEBOOK_POSTS:
            author = Author(page_id, name=PAGE_NAME)
            post = self._post(FACEBOOK, f"{page_id}_{digits}", author, text, now - age * DAY)
            post.permalink = f"https://www.facebook.com/{page_id}/posts/{digits}"
            post.status_type = status_type
        for media_id, text, age in _INSTAGRAM_MEDIA:
            post = self._post(INSTAGRAM, media_id, Author(ig_id, username=IG_USERNAME), text, now - age * DAY)
            post.permalink = f"https://www.instagram.com/{IG_USERNAME}/p/{media_id}/"
        for tweet_id, text, age in _X_POSTS:
            author = Author(x_user_id, name=X_BRAND_NAME, username=x_screen_name)
            post = self._post(TWITTER, tweet_id, author, text, now - age * DAY)
            post.permalink = f"https://twitter.com/{x_screen_name}/status/{tweet_id}"

    def _post(self, platform: str, post_id: str, author: Author, text: str, when: float) -> PublicItem:
        existing = self._items.get((platform, post_id))
        if existing is not None:
            return existing
        return self.add(PublicItem(platform, POST, post_id, post_id, None, author, text, when, True))

    def posts(self, platform: str) -> list[PublicItem]:
        """The brand's posts on `platform`, oldest first."""
        return [
            item
            for item in self._items.values()
            if item.platform == platform and item.kind == POST and item.from_brand
        ]

    # Items
    def add(self, item: PublicItem) -> PublicItem:
        """Keep a new item (the caller made its id unique)."""
        self._items[(item.platform, item.id)] = item
        return item

    def get(self, platform: str, item_id: str) -> PublicItem | None:
        """An item by platform and id."""
        return self._items.get((platform, item_id))

    def new_comment_id(self, post: PublicItem) -> str:
        """A fresh comment id in the platform's form (Facebook: `<post digits>_<digits>`); not for X."""
        while True:
            number = str(next(self._numbers[post.platform]))
            comment_id = f"{post.id.rsplit('_', 1)[-1]}_{number}" if post.platform == FACEBOOK else number
            if (post.platform, comment_id) not in self._items:
                return comment_id

    def new_media_id(self) -> str:
        """A fresh Instagram media id, for a customer's post or another account's."""
        while True:
            media_id = str(next(self._media_numbers))
            if (INSTAGRAM, media_id) not in self._items:
                return media_id

    def comment_count(self, post: PublicItem) -> int:
        """How many comments and replies are under `post`."""
        return sum(
            1
            for item in self._items.values()
            if item.platform == post.platform and item.post_id == post.id and item is not post
        )

    def is_comment(self, item: PublicItem) -> bool:
        """A comment or reply, or an Instagram comment mention (a comment on another account's media)."""
        return item.kind == COMMENT or (item.kind == MENTION and item.parent_id is not None)

    def on_brand_post(self, item: PublicItem) -> bool:
        """Whether `item` is, or is under, one of the brand's own posts: what Meta lets the brand moderate."""
        post = self.get(item.platform, item.post_id)
        return post is not None and post.kind == POST and post.from_brand

    def caption_mention(self, media_id: str) -> PublicItem | None:
        """The customer's Instagram media whose caption mentions the brand, by media id."""
        item = self.get(INSTAGRAM, media_id)
        return item if item is not None and item.kind == MENTION and item.parent_id is None else None

    def comment_mention(self, comment_id: str) -> PublicItem | None:
        """A customer's Instagram comment mentioning the brand on another account's media, by comment id."""
        item = self.get(INSTAGRAM, comment_id)
        return item if item is not None and item.kind == MENTION and item.parent_id is not None else None

    def top_level(self, item: PublicItem) -> PublicItem:
        """The comment directly under the post that `item` belongs to (itself for a top-level comment)."""
        while item.parent_id is not None and item.parent_id != item.post_id:
            parent = self.get(item.platform, item.parent_id)
            if parent is None:
                break
            item = parent
        return item

    def resolve(
        self, platform: str, post_id: str | None, parent_id: str | None
    ) -> tuple[PublicItem, PublicItem | None]:
        """The thread top and the comment answered for a new comment; the brand's first post by default."""
        parent = None
        if parent_id is not None:
            parent = self.get(platform, parent_id)
            if parent is None or parent.kind != COMMENT:
                raise LookupFailed(
                    f"parent_id {parent_id} is not a comment on {platform} (see GET /_sim/public)"
                )
            if post_id is not None and post_id != parent.post_id:
                raise LookupFailed(f"parent_id {parent_id} is under post {parent.post_id}, not {post_id}")
            post_id = parent.post_id
        if post_id is None:
            return self.posts(platform)[0], None
        post = self.get(platform, post_id)
        if post is None or not _takes_comments(post):
            named = f"post_id {post_id} is not"
            if parent is not None:
                named = f"parent_id {parent_id} is not under"
            raise LookupFailed(
                f"{named} a post on {platform} whose comments reach the brand (see GET /_sim/public)"
            )
        return post, parent

    def tree(self, platform: str | None = None) -> list[dict[str, Any]]:
        """Posts and mentions with their threads, as `GET /_sim/public` lists them."""
        children: dict[tuple[str, str], list[PublicItem]] = {}
        roots: list[PublicItem] = []
        for item in self._items.values():
            if platform is not None and item.platform != platform:
                continue
            if item.parent_id is None:
                roots.append(item)
            else:
                children.setdefault((item.platform, item.parent_id), []).append(item)

        def node(item: PublicItem) -> dict[str, Any]:
            answer = {
                "platform": item.platform,
                "kind": item.kind,
                "id": item.id,
                "post_id": item.post_id,
                "parent_id": item.parent_id,
                "author": item.author.to_json(),
                "text": item.text,
                "photo": item.photo,
                "hidden": item.hidden,
                "from_brand": item.from_brand,
                "private_reply": item.private_reply_id is not None,
                "created_time": item.created_at,
                "permalink": item.permalink,
            }
            answer["replies"] = [node(child) for child in children.get((item.platform, item.id), [])]
            return answer

        return [node(root) for root in roots]

    # Calls to the public fake APIs
    def start_action(
        self, platform: str | None, kind: str, target_id: str | None, text: str | None, endpoint: str
    ) -> PublicAction:
        """Record a call at arrival, so the list keeps arrival order even when answers are delayed."""
        action = PublicAction(next(self._action_ids), platform, kind, target_id, text, self.clock(), endpoint)
        self._actions.append(action)
        return action

    def actions(self, platform: str | None = None, kind: str | None = None) -> list[PublicAction]:
        """Answered calls in arrival order, optionally for one platform and/or kind."""
        return [
            a
            for a in self._actions
            if not a.pending
            and (platform is None or a.platform == platform)
            and (kind is None or a.kind == kind)
        ]

    def clear_actions(self) -> None:
        """Forget every recorded call."""
        self._actions.clear()
