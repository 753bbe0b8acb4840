"""Every Send API validation rule, one case each, and the limits that are still accepted."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from .conftest import IG_TOKEN, PAGE_TOKEN, graph_error, open_window, send

# Validation: one case per rule. Each body breaks exactly one rule; the window is open.

R = {"id": "u1"}


def msg(message: Any, **extra: Any) -> dict[str, Any]:
    return {"recipient": R, "messaging_type": "RESPONSE", "message": message, **extra}


def qr(title: str = "Yes", payload: str = "YES", content_type: str = "text") -> dict[str, Any]:
    return {"content_type": content_type, "title": title, "payload": payload}


def att(kind: str, payload: Any) -> dict[str, Any]:
    return {"attachment": {"type": kind, "payload": payload}}


def generic(*elements: Any) -> dict[str, Any]:
    return att("template", {"template_type": "generic", "elements": list(elements)})


def element(title: str = "Linen Shirt", **extra: Any) -> dict[str, Any]:
    return {"title": title, "subtitle": "£45", **extra}


def postback(title: str = "Buy", payload: str = "BUY") -> dict[str, Any]:
    return {"type": "postback", "title": title, "payload": payload}


def web_url(title: str = "View", url: str = "https://shop.example/1") -> dict[str, Any]:
    return {"type": "web_url", "title": title, "url": url}


def button_template(text: str = "Pick one", buttons: list[Any] | None = None) -> dict[str, Any]:
    chosen = [postback()] if buttons is None else buttons
    return att("template", {"template_type": "button", "text": text, "buttons": chosen})


INVALID: list[tuple[str, str, Any, str]] = [
    ("body not an object", "messenger", ["hello"], "JSON object"),
    (
        "recipient required",
        "messenger",
        {"messaging_type": "RESPONSE", "message": {"text": "hi"}},
        "recipient",
    ),
    ("recipient id required", "messenger", msg({"text": "hi"}, recipient={}), "recipient"),
    ("message and sender_action", "messenger", msg({"text": "hi"}, sender_action="typing_on"), "Exactly one"),
    (
        "neither message nor action",
        "messenger",
        {"recipient": R, "messaging_type": "RESPONSE"},
        "Exactly one",
    ),
    ("unknown sender_action", "messenger", {"recipient": R, "sender_action": "typing"}, "sender_action"),
    (
        "sender_action with messaging_type",
        "messenger",
        {"recipient": R, "sender_action": "typing_on", "messaging_type": "RESPONSE"},
        "messaging_type",
    ),
    (
        "messenger needs messaging_type",
        "messenger",
        {"recipient": R, "message": {"text": "hi"}},
        "messaging_type",
    ),
    (
        "unknown messaging_type",
        "messenger",
        msg({"text": "hi"}, messaging_type="NON_PROMOTIONAL"),
        "messaging_type",
    ),
    (
        "MESSAGE_TAG needs tag",
        "messenger",
        msg({"text": "hi"}, messaging_type="MESSAGE_TAG"),
        "tag is required",
    ),
    (
        "retired tag",
        "messenger",
        msg({"text": "hi"}, messaging_type="MESSAGE_TAG", tag="SHIPPING_UPDATE"),
        "tag must be",
    ),
    (
        "instagram takes HUMAN_AGENT only",
        "instagram",
        msg({"text": "hi"}, messaging_type="MESSAGE_TAG", tag="ACCOUNT_UPDATE"),
        "tag must be",
    ),
    ("tag without MESSAGE_TAG", "messenger", msg({"text": "hi"}, tag="HUMAN_AGENT"), "MESSAGE_TAG"),
    ("message not an object", "messenger", msg("hi"), "JSON object"),
    (
        "text and attachment",
        "messenger",
        msg({"text": "hi", **att("image", {"url": "https://x.example/a.png"})}),
        "exactly one of text or attachment",
    ),
    ("neither text nor attachment", "messenger", msg({}), "exactly one of text or attachment"),
    ("empty text", "messenger", msg({"text": "  "}), "non-empty"),
    ("text not a string", "messenger", msg({"text": 42}), "string"),
    ("messenger text over 2000", "messenger", msg({"text": "a" * 2001}), "2000"),
    ("instagram text over 1000", "instagram", msg({"text": "a" * 1001}), "1000"),
    ("empty quick_replies", "messenger", msg({"text": "hi", "quick_replies": []}), "quick_replies"),
    ("14 quick replies", "messenger", msg({"text": "hi", "quick_replies": [qr()] * 14}), "at most 13"),
    (
        "quick reply content_type",
        "messenger",
        msg({"text": "hi", "quick_replies": [qr(content_type="location")]}),
        "content_type",
    ),
    (
        "quick reply title over 20",
        "messenger",
        msg({"text": "hi", "quick_replies": [qr(title="t" * 21)]}),
        "title",
    ),
    (
        "quick reply payload over 1000",
        "messenger",
        msg({"text": "hi", "quick_replies": [qr(payload="p" * 1001)]}),
        "payload",
    ),
    (
        "quick reply needs payload",
        "messenger",
        msg({"text": "hi", "quick_replies": [{"content_type": "text", "title": "Yes"}]}),
        "payload] is required",
    ),
    (
        "quick reply needs title",
        "messenger",
        msg({"text": "hi", "quick_replies": [{"content_type": "text", "payload": "Y"}]}),
        "title] is required",
    ),
    ("attachment type", "messenger", msg(att("sticker", {"url": "https://x.example/a.png"})), "[type]"),
    ("attachment payload object", "messenger", msg({"attachment": {"type": "image"}}), "payload"),
    ("media needs url or attachment_id", "messenger", msg(att("image", {})), "url or attachment_id"),
    (
        "media url and attachment_id",
        "messenger",
        msg(att("image", {"url": "https://x.example/a.png", "attachment_id": "1"})),
        "url or attachment_id",
    ),
    ("media url must be a URL", "messenger", msg(att("file", {"url": "not a url"})), "valid URL"),
    ("template type", "messenger", msg(att("template", {"template_type": "receipt"})), "template_type"),
    ("generic needs elements", "messenger", msg(generic()), "elements"),
    ("generic over 10 elements", "messenger", msg(generic(*[element()] * 11)), "at most 10"),
    ("generic title over 80", "messenger", msg(generic(element(title="t" * 81))), "title"),
    ("generic subtitle over 80", "messenger", msg(generic(element(subtitle="s" * 81))), "subtitle"),
    (
        "generic element needs more than title",
        "messenger",
        msg(generic({"title": "Only"})),
        "in addition to title",
    ),
    ("generic over 3 buttons", "messenger", msg(generic(element(buttons=[postback()] * 4))), "at most 3"),
    ("button title over 20", "messenger", msg(generic(element(buttons=[postback(title="b" * 21)]))), "title"),
    (
        "button type",
        "messenger",
        msg(generic(element(buttons=[{"type": "phone_number", "title": "Call", "payload": "+44"}]))),
        "[type]",
    ),
    (
        "postback needs payload",
        "messenger",
        msg(generic(element(buttons=[{"type": "postback", "title": "Buy"}]))),
        "payload] is required",
    ),
    (
        "web_url needs url",
        "messenger",
        msg(generic(element(buttons=[{"type": "web_url", "title": "View"}]))),
        "url",
    ),
    (
        "default_action without title",
        "messenger",
        msg(generic(element(default_action={"type": "web_url", "url": "https://x.example", "title": "T"}))),
        "default_action",
    ),
    ("button template text over 640", "messenger", msg(button_template(text="t" * 641)), "text"),
    (
        "button template needs text",
        "messenger",
        msg(att("template", {"template_type": "button", "buttons": [postback()]})),
        "text] is required",
    ),
    ("button template needs a button", "messenger", msg(button_template(buttons=[])), "1 to 3"),
    (
        "button template over 3 buttons",
        "messenger",
        msg(button_template(buttons=[postback()] * 4)),
        "at most 3",
    ),
]


@pytest.mark.parametrize(
    ("platform", "body", "fragment"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
async def test_invalid_request_is_refused_with_code_100(
    sim: TestClient, platform: str, body: Any, fragment: str
) -> None:
    await open_window(sim, platform, "u1")
    status, answer = await send(sim, body, token=PAGE_TOKEN if platform == "messenger" else IG_TOKEN)
    assert status == 400
    error = graph_error(answer)
    assert (error["code"], error["type"]) == (100, "OAuthException")
    assert fragment in error["message"]


VALID: list[tuple[str, str, Any]] = [
    ("messenger text of 2000", "messenger", msg({"text": "a" * 2000})),
    ("instagram text of 1000", "instagram", msg({"text": "a" * 1000})),
    ("instagram without messaging_type", "instagram", {"recipient": R, "message": {"text": "hi"}}),
    (
        "13 quick replies of 20 chars",
        "messenger",
        msg({"text": "hi", "quick_replies": [qr(title="t" * 20)] * 13}),
    ),
    (
        "phone and email quick replies",
        "messenger",
        msg(
            {
                "text": "hi",
                "quick_replies": [{"content_type": "user_phone_number"}, {"content_type": "user_email"}],
            }
        ),
    ),
    ("image by url", "messenger", msg(att("image", {"url": "https://x.example/a.png", "is_reusable": True}))),
    ("video by attachment_id", "messenger", msg(att("video", {"attachment_id": "1857777774821032"}))),
    (
        "generic carousel at the limits",
        "messenger",
        msg(
            generic(
                *[
                    element(
                        title="t" * 80,
                        subtitle="s" * 80,
                        image_url="https://x.example/a.png",
                        buttons=[postback(title="b" * 20), web_url(), postback()],
                    )
                ]
                * 10
            )
        ),
    ),
    (
        "generic with default_action",
        "instagram",
        msg(generic({"title": "Shirt", "default_action": {"type": "web_url", "url": "https://x.example"}})),
    ),
    (
        "button template at the limits",
        "messenger",
        msg(button_template(text="t" * 640, buttons=[postback(), web_url(), postback()])),
    ),
    (
        "quick replies on an attachment",
        "messenger",
        msg({**att("image", {"url": "https://x.example/a.png"}), "quick_replies": [qr()]}),
    ),
    (
        "HUMAN_AGENT on instagram",
        "instagram",
        msg({"text": "hi"}, messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT"),
    ),
    ("UPDATE", "messenger", msg({"text": "hi"}, messaging_type="UPDATE")),
]


@pytest.mark.parametrize(("platform", "body"), [c[1:] for c in VALID], ids=[c[0] for c in VALID])
async def test_valid_message_is_accepted(sim: TestClient, platform: str, body: Any) -> None:
    await open_window(sim, platform, "u1")
    status, answer = await send(sim, body, token=PAGE_TOKEN if platform == "messenger" else IG_TOKEN)
    assert status == 200, answer
    assert answer["recipient_id"] == "u1"
    assert answer["message_id"].startswith("m_")
