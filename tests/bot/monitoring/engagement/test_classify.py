"""What a public item is, how urgent, and what to suggest: the rules as a table, with engagement.yml."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.config_files import ConfigFileError
from bot.monitoring.engagement.classify import (
    ProductSeen,
    Understood,
    category,
    private_suggestion,
    suggestion,
    urgency,
)
from bot.monitoring.engagement.policy import AUTO, CONFIG_FILE, QUEUE, RECORD, EngagementConfig

CONFIG = EngagementConfig.load(CONFIG_FILE)  # the committed file: what users get
JUMPER = ProductSeen(7, "Alpaca Wool Jumper", "€89.00", "https://shop.example/p/alpaca-jumper", 0.96)
NAMED = dataclasses.replace(JUMPER, confidence=None)


def item(text: str = "", **fields) -> Understood:
    return Understood(text=text, author=fields.pop("author", "Jane"), **fields)


@pytest.mark.parametrize(
    ("understood", "expected"),
    [
        (item("you are all idiots", flags=("block_list",)), "abuse"),
        (item("follow me for free followers"), "spam"),
        (item("great deals https://a.example https://b.example"), "spam"),
        (item("where is my order??", intent="order_status"), "order_problem"),
        (item("still waiting for #104523", intent="complaint", order_mentioned=True), "order_problem"),
        (item("this broke after a week", intent="product_issue"), "complaint"),
        (item("worst shop ever", sentiment_label="negative", sentiment_score=-0.8), "complaint"),
        (item("Where can I buy this?", product=JUMPER), "product_photo"),
        (item("", product=JUMPER), "product_photo"),  # a photo alone
        (item("love it, where can I get one??", sentiment_label="positive", product=JUMPER), "product_photo"),
        (
            item("I love my new jumper!", intent="compliment", sentiment_label="positive", product=JUMPER),
            "praise",
        ),
        (item("thank you so much", intent="thank"), "praise"),
        (item("do you ship to Norway?", intent="shipping_info"), "question"),
        (item("nice weather today"), "other"),
    ],
)
def test_each_item_gets_the_first_category_that_fits(understood: Understood, expected: str) -> None:
    assert category(understood, CONFIG) == expected


def test_a_product_named_in_the_text_is_no_photo_match() -> None:
    assert category(item("is the jumper back?", product=NAMED), CONFIG) == "question"


def test_the_photo_suggestion_names_the_product_its_price_and_link() -> None:
    text = suggestion(item("Where can I buy this?", product=JUMPER), "product_photo", CONFIG)

    assert "Jane" in text and "Alpaca Wool Jumper" in text and "€89.00" in text
    assert "https://shop.example/p/alpaca-jumper" in text


def test_praise_thanks_by_the_product_and_without_one_by_the_brand() -> None:
    with_product = suggestion(item("love it", product=JUMPER), "praise", CONFIG)
    without = suggestion(item("love you guys"), "praise", CONFIG)

    assert "Alpaca Wool Jumper" in with_product and with_product.startswith("Thank you")
    assert "Loom & Co" in without and "{" not in without


def test_an_order_problem_is_invited_to_a_private_chat_and_never_echoes_the_order() -> None:
    text = suggestion(item("order 104523 never came", order_mentioned=True), "order_problem", CONFIG)

    assert "private message" in text and "104523" not in text


def test_the_private_reply_starts_from_the_brand_greeting() -> None:
    assert private_suggestion(item(author="@jane"), CONFIG).startswith("Hi @jane, this is Loom & Co")


def test_anger_and_reach_raise_urgency_within_the_category_weights() -> None:
    calm = urgency(item("hm"), "complaint", CONFIG)
    angry = urgency(item("!!", sentiment_label="negative", sentiment_score=-1.0), "complaint", CONFIG)
    famous = urgency(item("hm", followers=1_000_000), "complaint", CONFIG)

    assert calm == CONFIG.weights["complaint"]
    assert angry == calm + CONFIG.negative_weight
    assert famous == calm + CONFIG.reach_weight
    assert urgency(item("hm"), "order_problem", CONFIG) > calm > urgency(item("hm"), "praise", CONFIG)


def test_the_committed_policies() -> None:
    assert CONFIG.policy("product_photo").decision == AUTO
    assert CONFIG.policy("product_photo").min_confidence == 0.87
    assert CONFIG.policy("order_problem").decision == QUEUE
    assert CONFIG.policy("abuse").decision == RECORD and CONFIG.policy("abuse").hide
    assert CONFIG.policy("spam").hide


@pytest.mark.parametrize(
    ("yaml", "problem"),
    [
        ("categories: {praize: queue}\n", "categories.praize: not a category"),
        ("categories: {praise: {decision: sometimes}}\n", "categories.praise.decision"),
        ("categories: {product_photo: {decision: auto, min_confidence: 2}}\n", "min_confidence"),
        ("categories: {spam: {hide: yes please}}\n", "hide"),
        ("replies: {praise: 'Thanks {nmae}!'}\n", "unknown placeholder"),
        ("replies: {thanks: 'x'}\n", "replies.thanks"),
        ("urgency: {weights: {praise: -1}}\n", "urgency.weights.praise"),
        ("colours: red\n", "unknown key"),
    ],
)
def test_a_broken_file_is_refused_with_the_key_named(tmp_path: Path, yaml: str, problem: str) -> None:
    path = tmp_path / "engagement.yml"
    path.write_text(yaml, encoding="utf-8")

    with pytest.raises(ConfigFileError, match=problem.replace("{", r"\{")):
        EngagementConfig.watch(path)


def test_an_edit_is_picked_up_and_a_broken_one_keeps_the_last_good(tmp_path: Path) -> None:
    path = tmp_path / "engagement.yml"
    path.write_text("categories: {praise: auto}\n", encoding="utf-8")
    watched = EngagementConfig.watch(path, every=0)
    assert watched.value.policy("praise").decision == AUTO

    path.write_text("categories: {praise: record}\n", encoding="utf-8")
    assert watched.value.policy("praise").decision == RECORD
    path.write_text("categories: {praise: [}\n", encoding="utf-8")
    assert watched.value.policy("praise").decision == RECORD
