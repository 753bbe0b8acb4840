"""The metadata contract: declared keys, what connectors build, and readers that trust no shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.conversations import metadata as meta
from bot.conversations.metadata import CustomerMetadata, UtteranceMetadata, customer_metadata
from connectors.meta_events import CustomerMessage, Standby, parse_webhook

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_a_customer_message_keeps_the_declared_keys_and_drops_the_rest(caplog):
    built = customer_metadata("messenger", "image", "m.1", {"image_urls": ["https://x/1.jpg"], "evil": 1})
    assert built == {
        "platform": "messenger",
        "kind": "image",
        "mid": "m.1",
        "image_urls": ["https://x/1.jpg"],
    }
    assert "'evil' is not declared" in caplog.text


def meta_fixtures() -> list[Path]:
    return sorted(p for d in ("messenger", "instagram") for p in (FIXTURES / d).glob("*.json"))


@pytest.mark.parametrize("path", meta_fixtures(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_key_meta_events_attach_is_declared(path):
    platform = path.parent.name
    events = parse_webhook(
        platform, "instagram" if platform == "instagram" else "page", json.loads(path.read_text())
    )
    for event in events:
        inner = event.inner if isinstance(event, Standby) else event
        if isinstance(inner, CustomerMessage):
            assert set(inner.metadata) <= meta.CUSTOMER_KEYS


def test_every_key_is_documented_in_its_declaration():
    source = Path(meta.__file__).read_text()
    for declared in (CustomerMetadata, UtteranceMetadata):
        for key in declared.__annotations__:
            line = next(line for line in source.splitlines() if line.strip().startswith(f"{key}:"))
            assert "#" in line, f"{key} has no one-line explanation"


@pytest.mark.parametrize(
    ("value", "urls"),
    [
        ({"image_urls": ["https://a/1.jpg", "https://a/2.jpg"]}, ("https://a/1.jpg", "https://a/2.jpg")),
        ({"image_urls": ["https://a/1.jpg", "", 7, None]}, ("https://a/1.jpg",)),
        ({"image_urls": "https://a/1.jpg"}, ()),
        ({"image_urls": {"url": "https://a/1.jpg"}}, ()),
        ({}, ()),
        (None, ()),
        ("not a mapping", ()),
    ],
)
def test_image_urls_are_only_a_list_of_non_empty_strings(value, urls):
    assert meta.image_urls(value) == urls


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ({"sender_screen_name": "jo_shops", "sender_name": "Jo"}, "@jo_shops"),
        ({"sender_screen_name": None, "sender_name": "Jo"}, "Jo"),
        ({"sender_screen_name": "", "sender_name": ""}, None),
        ({"sender_name": 42}, None),
        (None, None),
    ],
)
def test_the_customer_is_named_by_handle_then_name(value, label):
    assert meta.customer_label(value) == label


def test_the_readers_of_each_key():
    x_photo = {
        "sender_screen_name": "jo",
        "sender_name": "Jo",
        "image_auth": meta.X_OAUTH1,
        "caption": "this one",
        "title": None,
        "mid": "dm-1",
    }
    assert (meta.screen_name(x_photo), meta.sender_name(x_photo)) == ("jo", "Jo")
    assert meta.image_auth(x_photo) == "x_oauth1" and meta.image_auth({}) is None
    assert meta.shown_text(x_photo) == "this one"
    assert meta.shown_text({"title": "Yes, cancel it", "caption": "x"}) == "Yes, cancel it"
    assert meta.mid(x_photo) == "dm-1" and meta.mid({"mid": 5}) is None
    assert (
        meta.sender_picture({"sender_picture": "https://pbs.twimg.com/p/a.jpg"})
        == "https://pbs.twimg.com/p/a.jpg"
    )
    assert meta.sender_picture({"sender_picture": "javascript:alert(1)"}) is None
    assert meta.sender_picture({"sender_picture": 3}) is None and meta.sender_picture(None) is None
    assert meta.marked_external({"is_external": True}) and not meta.marked_external({"is_external": False})
    assert not meta.marked_external(None)


def test_the_readers_of_a_persons_reply():
    desk = UtteranceMetadata(author=meta.AGENT, agent_id=3, agent_name="Ada", client_id="c", mids=["m"])
    inbox = UtteranceMetadata(author=meta.HUMAN_AGENT, source="meta_inbox", app_id="263902037430900", mid="m")
    assert (meta.author(desk), meta.agent_name(desk)) == ("agent", "Ada")
    assert (meta.author(inbox), meta.source(inbox)) == ("human_agent", "meta_inbox")
    assert meta.author({"author": "someone else"}) is None and meta.author({}) is None
    assert meta.agent_name({"agent_name": ["Ada"]}) is None
