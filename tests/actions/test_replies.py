"""Every reply is a response of domain.yml, and an action always gives every value its response needs.

Rasa fills a placeholder an action did not give from a slot of the same name, or sends the raw
template: neither may happen. Replies with a fixed key (`say(dispatcher, "key", name=...)`) are checked
from the code; replies decided by bot/shop and bot/catalog (`Reply` objects) are produced for every
state those functions know and rendered against every variant of their response.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import inert, response_name, say
from bot.catalog.availability import ProductInfo, Variant, availability_reply
from bot.conversations.metadata import UtteranceMetadata
from bot.shop.locations import StoreInfo, stores_reply
from bot.shop.orders import (
    OrderStatus,
    OrderSummary,
    RefundStatus,
    Reply,
    cancel_done_reply,
    cancel_reply,
    refund_reply,
    return_reply,
    status_reply,
)

from .responses import DOMAIN, MESSAGE_KEYS, RESPONSES, ROOT, fill, placeholders, render, templates

# Output channels as Rasa names them when it picks a `channel:` variant (`OutputChannel.name()`).
OUTPUT_CHANNELS = {
    "twitter": "X DMs (connectors/twitter.py)",
    "meta": "Messenger and Instagram, both (connectors/meta_output.py)",
    "collector": "the REST channel (Rasa's CollectingOutputChannel)",
}
# Values end up in the `bot` event's metadata, which Rasa merges into the message it hands the output
# channel: their names must not be read as anything else there.
RESERVED_NAMES = (
    MESSAGE_KEYS
    | {"quick_replies", "json_message", "recipient_id", "timestamp", "utter_action", "metadata"}
    | set(UtteranceMetadata.__annotations__)
)


@dataclass(frozen=True)
class Sent:
    """A reply named in the code: `say(dispatcher, "key", ...)` or `Reply("key", ...)`."""

    call: str  # "say" or "Reply"
    key: str
    where: str
    names: frozenset[str] | None = None  # the values a `say` gives by name (None: `**values` hides them)


def sent_in_code() -> list[Sent]:
    """`say(dispatcher, "key", name=...)` and `Reply("key", ...)` in actions/ and bot/."""
    found = []
    for path in sorted([*ROOT.joinpath("actions").glob("*.py"), *ROOT.joinpath("bot").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            position = {"say": 1, "Reply": 0}.get(func)
            if position is None or len(node.args) <= position:
                continue
            key = node.args[position]
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                continue  # a Reply built elsewhere: checked below with the replies the services give
            names = [k.arg for k in node.keywords]
            given = None if None in names else frozenset(n for n in names if n is not None)
            found.append(Sent(func, key.value, f"{path.relative_to(ROOT)}:{node.lineno}", given))
    return found


SENT = sent_in_code()
SAID = [s for s in SENT if s.call == "say"]

# Every state the reply functions of bot/shop and bot/catalog tell apart.
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
LATER = NOW + dt.timedelta(days=60)  # past the return window
STATUSES = [v for k, v in vars(OrderStatus).items() if k.isupper()]
REFUNDS = [v for k, v in vars(RefundStatus).items() if k.isupper()]
DETAILS = {
    "shipped_at": NOW - dt.timedelta(days=5),
    "estimated_delivery": dt.date(2026, 11, 26),
    "delivered_at": NOW - dt.timedelta(days=3),
    "cancelled_at": NOW - dt.timedelta(days=6),
    "carrier": "DPD",
    "tracking_url": "https://track.example/104523",
    "refund_amount": Decimal("20.00"),
    "refund_issued_at": NOW - dt.timedelta(days=1),
}
SHIRT = ProductInfo(
    1, "Linen Shirt", "shirts", "£45.00", "https://shop.example/linen-shirt",
    (Variant("navy", "M", 0), Variant("navy", "L", 3), Variant("white", "M", 5)),
)  # fmt: skip
SOLD_OUT = ProductInfo(
    2, "Canvas Sneakers", "sneakers", "£60.00", "https://shop.example/sneakers", (Variant("white", "40", 0),)
)
STORES = [
    StoreInfo("Loom & Co. Manchester", "Manchester", "12 Oldham Street", "0161 000 0000", "Mon–Sat 9–18"),
    StoreInfo("Loom & Co. Leeds", "Leeds", "3 Briggate", "0113 000 0000", "Mon–Sat 9–18"),
]


def service_replies() -> Iterator[Reply]:
    for status in STATUSES:
        for refund in REFUNDS:
            for details in (DETAILS, {}):
                order = OrderSummary(
                    id=104523, status=status, placed_at=NOW - dt.timedelta(days=8), total=Decimal("45.00"),
                    currency="GBP", items=("Linen Shirt (white, M)", "2 × Belt (brown, M)"),
                    refund_status=refund, **details,
                )  # fmt: skip
                yield from (status_reply(order), cancel_reply(order), cancel_done_reply(order))
                yield from (refund_reply(order), return_reply(order, NOW), return_reply(order, LATER))
    for product in (SHIRT, SOLD_OUT):
        for color in (None, "navy", "white", "pink"):
            for size in (None, "M", "L", "XXL"):
                yield availability_reply(product, color, size)
    yield from (stores_reply(STORES, "when is the manchester store open?"), stores_reply(STORES, "stores?"))


SERVICE_REPLIES = list(dict.fromkeys((r.key, tuple(sorted(r.values.items()))) for r in service_replies()))


def test_every_response_the_code_names_is_in_the_domain():
    missing = {s.where: response_name(s.key) for s in SENT if response_name(s.key) not in RESPONSES}
    assert len(SENT) > 40 and not missing


def test_every_response_is_sent_by_a_rule_a_story_the_form_or_an_action():
    data = "\n".join(p.read_text(encoding="utf-8") for p in ROOT.joinpath("data").rglob("*.yml"))
    named = set(re.findall(r"\baction:\s*(utter_\w+)", data))
    asked = {f"utter_ask_{slot}" for form in DOMAIN["forms"].values() for slot in form["required_slots"]}
    sent = {response_name(s.key) for s in SENT}
    assert not set(RESPONSES) - named - asked - sent


def test_every_reply_the_services_give_is_checked_here():
    """A new `Reply("key", ...)` in bot/ needs a state above that produces it."""
    assert {s.key for s in SENT if s.call == "Reply"} == {key for key, _ in SERVICE_REPLIES}


@pytest.mark.parametrize("sent", SAID, ids=lambda s: s.where)
def test_a_reply_sent_by_key_gets_every_placeholder_from_the_action(sent):
    needed = set().union(*(placeholders(t) for v in RESPONSES[response_name(sent.key)] for t in templates(v)))
    assert sent.names is not None, f"{sent.where}: give the values by name, not as **values"
    assert needed <= sent.names, f"{sent.where} does not give {needed - sent.names}"


@pytest.mark.parametrize(
    ("key", "values"), SERVICE_REPLIES, ids=[f"{key}-{i}" for i, (key, _) in enumerate(SERVICE_REPLIES)]
)
def test_a_reply_the_services_give_fills_every_variant_of_its_response(key, values):
    given = {name: inert(value) for name, value in values}  # as `say` gives them
    for variant in RESPONSES[response_name(key)]:
        for template in templates(variant):
            fill(template, given)  # KeyError: a placeholder without a value


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_placeholders_are_plain_names_the_same_in_every_variant(name):
    """What Rasa's interpolator and str.format agree on; "0[" or "0{" would make Rasa send the template."""
    found = []
    for variant in RESPONSES[name]:
        texts = templates(variant)
        for text in texts:
            fields = [part[1:] for part in string.Formatter().parse(text) if part[1] is not None]
            assert all(f.isidentifier() and not spec and conversion is None for f, spec, conversion in fields)
            assert "0[" not in text and "0{" not in text and "}[" not in text
            assert not (fields and "{{" in text), "a text with literal braces cannot have placeholders"
        found.append(set().union(*(placeholders(t) for t in texts)))
    assert all(f == found[0] for f in found)


def test_value_names_stay_clear_of_message_and_metadata_keys():
    names = {n for s in SAID for n in s.names or ()} | {n for _, values in SERVICE_REPLIES for n, _ in values}
    assert names and not names & RESERVED_NAMES


def test_channel_variants_name_a_channel_rasa_sends_through():
    channels = {v["channel"] for variants in RESPONSES.values() for v in variants if "channel" in v}
    assert channels <= set(OUTPUT_CHANNELS)
    for name, variants in RESPONSES.items():  # every channel still has a text
        assert any("channel" not in v for v in variants), name


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("size 10[uk] jumper", "size 10 [uk] jumper"),
        ("{product} {0[x]}", "{product} {0 [x]}"),
        ("50% off }{", "50% off }{"),
    ],
)
def test_what_a_customer_typed_is_sent_back_never_the_raw_template(typed, shown):
    dispatcher = CollectingDispatcher()
    say(dispatcher, "product_not_found", product=typed)
    assert f'"{shown}"' in render(dispatcher.messages[0])["text"]


def test_a_link_keeps_its_address():
    dispatcher = CollectingDispatcher()
    values = {"order_id": "1", "shipped_on": "Mon 2 Nov", "carrier": "DPD", "eta": "Tue 3 Nov"}
    say(dispatcher, "order_shipped", tracking_url="https://track.example/?id=10[2]", **values)
    assert render(dispatcher.messages[0])["text"].endswith("https://track.example/?id=10%5B2]")


def test_a_missing_value_or_a_raw_template_fails_the_render():
    with pytest.raises(KeyError):
        render({"response": "utter_order_not_found"})
    with pytest.raises(AssertionError, match="raw template"):
        fill("I couldn't find {product}", {"product": "size 10[uk]"})
    assert fill('/rate_service{{"csat_score":"1"}}', {}) == '/rate_service{"csat_score":"1"}'
