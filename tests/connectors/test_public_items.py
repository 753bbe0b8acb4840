"""Public items in: Facebook feed comments, Instagram comments and X mentions with photos (runtime A).

The webhooks are the platforms' documented shapes (tests/fixtures); each becomes one event or is
deliberately ignored (our own replies, edits, reactions), and a stored item keeps what the engagement
queue needs (who, where, under which post, the photo, the reach).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.meta_events import Comment, Ignored, InstagramMention, Unsupported, parse_webhook
from connectors.meta_schema import validate_body
from connectors.x_events import Mention
from connectors.x_events import parse_webhook as parse_x_webhook
from connectors.x_schema import validate_body as validate_x_body

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PAGE_ID = "104556789012345"
IG_ID = "17841400000000001"


def load(platform: str, name: str) -> dict:
    return json.loads((FIXTURES / platform / f"{name}.json").read_text(encoding="utf-8"))


def meta_events(platform: str, name: str, obj: str):
    checked = validate_body(load(platform, name), obj)
    assert checked.rejected == []
    return parse_webhook(platform, obj, checked.body)


def test_a_facebook_photo_comment_is_one_comment_with_its_post_photo_and_author() -> None:
    [event] = meta_events("messenger", "feed__comment_with_photo", "page")

    assert isinstance(event, Comment)
    assert event.comment_id == "122100000000000001_987654321098765"
    assert event.post_id == "104556789012345_122100000000000001"
    assert event.parent_id is None  # on the post itself: Meta sends the post as the parent
    assert event.sender_id == "6123456789012345" and event.recipient_id == PAGE_ID
    assert event.author_name == "Jane Doe"
    assert event.text == "Where can I buy this?"
    assert event.photo_url == "https://scontent.xx.fbcdn.net/v/t39.30808-6/470000000_1_n.jpg?_nc_cat=1"
    assert event.permalink == "https://www.facebook.com/104556789012345/posts/pfbid02abc"
    assert event.timestamp == 1733468400 * 1000
    assert event.dedupe_key == "comment:122100000000000001_987654321098765"


def test_a_reply_keeps_the_comment_it_answers() -> None:
    [event] = meta_events("messenger", "feed__reply_to_comment", "page")

    assert isinstance(event, Comment)
    assert event.parent_id == "122100000000000001_987654321098765"
    assert event.photo_url is None


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("feed__own_comment", "own_comment"),  # our own public reply comes back as a feed change
        ("feed__comment_edited", "feed_comment_edited"),
        ("feed__reaction", "feed_reaction_add"),
    ],
)
def test_our_own_comments_edits_and_reactions_are_not_items(name: str, kind: str) -> None:
    [event] = meta_events("messenger", name, "page")

    assert isinstance(event, Ignored) and event.kind == kind


def test_an_instagram_comment_and_a_reply_to_it() -> None:
    [comment] = meta_events("instagram", "comments__comment", "instagram")
    [reply] = meta_events("instagram", "comments__reply", "instagram")

    assert isinstance(comment, Comment) and isinstance(reply, Comment)
    assert (comment.comment_id, comment.post_id, comment.parent_id) == (
        "17865799348089039",
        "17918195224117851",
        None,
    )
    assert comment.author_name == "jane.knits" and comment.recipient_id == IG_ID
    assert comment.text == "Love this! Is it available in navy?"
    assert reply.parent_id == "17865799348089039"


def test_an_instagram_mention_carries_only_the_ids_to_fetch() -> None:
    [event] = meta_events("instagram", "mentions__caption", "instagram")

    assert isinstance(event, InstagramMention)
    assert (event.media_id, event.comment_id, event.item_id) == (
        "17920238422030506",
        None,
        "17920238422030506",
    )
    assert event.recipient_id == IG_ID and event.dedupe_key == "mention:17920238422030506"


def test_an_unknown_change_field_is_logged_as_unsupported() -> None:
    body = load("instagram", "mentions__caption")
    body["entry"][0]["changes"][0]["field"] = "story_insights"

    [event] = parse_webhook("instagram", "instagram", validate_body(body, "instagram").body)

    assert isinstance(event, Unsupported) and event.kind == "change_story_insights"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": ["x"]}}, "comment_id"),
        ({"field": "feed", "value": {"item": 5, "verb": "add"}}, "item"),
        ({"field": "comments", "value": {"id": "1", "text": "hi", "media": {"id": "2"}}}, "from"),
        ({"field": "comments", "value": "not an object"}, "value"),
        ({"value": {}}, "field"),
    ],
)
def test_a_malformed_change_is_left_out_and_the_rest_of_the_batch_goes_on(change: dict, problem: str) -> None:
    good = load("messenger", "feed__comment_with_photo")
    body = {"object": "page", "entry": [{"id": PAGE_ID, "time": 1, "changes": [change]}, *good["entry"]]}

    checked = validate_body(body, "page")

    assert len(checked.rejected) == 1 and problem in checked.rejected[0]
    [event] = parse_webhook("messenger", "page", checked.body)
    assert isinstance(event, Comment)


def test_changes_need_the_account_id_of_their_entry() -> None:
    body = load("messenger", "feed__comment_with_photo")
    body["entry"][0]["id"] = "<script>"

    checked = validate_body(body, "page")

    assert checked.body["entry"][0]["changes"] == [] and "entry[0].id" in checked.rejected[0]


def test_an_x_mention_keeps_its_photos_and_the_authors_reach() -> None:
    checked = validate_x_body(load("twitter", "tweet_create__mention_with_photo"))
    [event] = parse_x_webhook(checked.body)

    assert isinstance(event, Mention)
    assert event.media_urls == ("https://pbs.twimg.com/media/GdXyZ12WkAAbCdE.jpg",)
    assert event.followers == 15800
    assert event.text.startswith("@loomandco where can I buy this?")


def test_an_x_mention_without_photos_has_none() -> None:
    [event] = parse_x_webhook(validate_x_body(load("twitter", "tweet_create__mention")).body)

    assert isinstance(event, Mention) and event.media_urls == () and event.followers == 412
