"""Checks of the assistant's content that a content editor can break: coverage, separation, consistency."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

from bot.storage.seed import load_yaml

ROOT = Path(__file__).resolve().parents[1]
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]+\)|\{[^}]+\})")
INTENTS = [
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "request_human", "order_status",
    "cancel_order", "return_item", "refund_status", "shipping_info", "product_availability", "product_issue",
    "payment_issue", "discount_inquiry", "store_info", "complaint", "compliment", "insult", "out_of_scope",
    "rate_service", "verify_order",
]  # fmt: skip
# Intents the channels send for content without text; few examples, not part of the held-out gate.
MEDIA_INTENTS = ["share_photo", "share_attachment", "story_mention"]
# Intents the desk triggers through Rasa's HTTP API; never typed, no held-out examples.
EXTERNAL_INTENTS = ["EXTERNAL_csat_request", "EXTERNAL_bot_csat_request"]


def examples(paths: list[Path]) -> dict[str, list[str]]:
    """Plain example texts per intent (annotations removed)."""
    found: dict[str, list[str]] = {}
    for path in paths:
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            if "intent" in block:
                lines = [line[2:].strip() for line in block["examples"].splitlines() if line.startswith("- ")]
                found.setdefault(block["intent"], []).extend(ANNOTATION.sub(r"\1", line) for line in lines)
    return found


TRAINING = examples(sorted((ROOT / "data" / "nlu").glob("*.yml")))
HELD_OUT = examples(sorted((ROOT / "tests" / "nlu").glob("*.yml")))


def normalise(text: str) -> str:
    """Lower-case words and digits only ("who's" is "whos"); an emoji-only message is compared as it is."""
    words = re.sub(r"[^a-z0-9]+", " ", text.lower().replace("'", "").replace("’", "")).strip()
    return words or text.strip()


def test_every_intent_has_at_least_25_training_examples():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert domain["intents"] == INTENTS + MEDIA_INTENTS + EXTERNAL_INTENTS
    counts = {intent: len(TRAINING.get(intent, [])) for intent in INTENTS}
    assert min(counts.values()) >= 25, counts
    assert min(len(TRAINING.get(intent, [])) for intent in MEDIA_INTENTS) >= 10


def test_held_out_set_covers_every_intent_and_is_never_trained_on():
    assert set(HELD_OUT) == set(INTENTS)
    trained = {normalise(text) for texts in TRAINING.values() for text in texts}
    leaked = [text for texts in HELD_OUT.values() for text in texts if normalise(text) in trained]
    assert not leaked


def test_no_example_is_given_two_intents():
    owners = Counter(normalise(t) for texts in TRAINING.values() for t in set(map(normalise, texts)))
    assert [text for text, n in owners.items() if n > 1 and text] == []


def test_every_catalogue_product_is_in_the_product_lookup():
    lookup = yaml.safe_load((ROOT / "data" / "nlu" / "lookups" / "product.yml").read_text(encoding="utf-8"))
    phrases = {
        line[2:].strip() for line in lookup["nlu"][0]["examples"].splitlines() if line.startswith("- ")
    }
    titles = {item["title"].lower() for item in load_yaml("catalog.yml")["products"]}
    assert titles <= phrases, titles - phrases


def test_every_catalogue_colour_is_in_the_colour_lookup():
    lookup = yaml.safe_load((ROOT / "data" / "nlu" / "lookups" / "color.yml").read_text(encoding="utf-8"))
    phrases = {
        line[2:].strip() for line in lookup["nlu"][0]["examples"].splitlines() if line.startswith("- ")
    }
    colours = {c for item in load_yaml("catalog.yml")["products"] for c in item["colors"]}
    assert colours <= phrases, colours - phrases
