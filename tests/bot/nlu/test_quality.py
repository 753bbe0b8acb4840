"""The data-quality checks of the content editors' report, on small YAML files and the real encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.nlu import quality
from bot.nlu.encoder import SentenceEncoder

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[3]
LOOKUPS = """
- synonym: black
  examples: |
    - blk
- lookup: product
  examples: |
    - linen shirt
- regex: order_id
  examples: |
    - 1\\d{5}
"""
VARIED_ORDER_STATUS = [
    "where is my order", "has my parcel shipped yet", "any update on my delivery?",
    "tracking says in transit for a week", "when will my stuff arrive",
]  # fmt: skip


@pytest.fixture(scope="module")
def encode() -> quality.Encode:
    """The exported all-MiniLM-L6-v2 (`make train` exports it to models/encoder)."""
    return SentenceEncoder(ROOT / "models" / "encoder").encode


def write_nlu(path: Path, intents: dict[str, list[str]], extra: str = "") -> Path:
    """A Rasa 3 NLU file with one block per intent."""
    blocks = [
        f"- intent: {intent}\n  examples: |\n" + "".join(f"    - {text}\n" for text in texts)
        for intent, texts in intents.items()
    ]
    path.write_text('# Test topic.\nversion: "3.1"\nnlu:\n' + "".join(blocks) + extra, encoding="utf-8")
    return path


def run(tmp_path: Path, encode: quality.Encode, training: dict, held_out: dict | None = None, **limits):
    examples = quality.load_examples([write_nlu(tmp_path / "train.yml", training)])
    held = quality.load_examples([write_nlu(tmp_path / "held.yml", held_out)]) if held_out else []
    return quality.check(examples, held, encode, quality.Thresholds(**limits))


def test_loading_strips_annotations_skips_lookups_and_external_intents_and_keeps_the_line(tmp_path):
    path = write_nlu(
        tmp_path / "orders.yml",
        {"order_status": ["where is [108342](order_id)", 'is my [linen shirt]{"entity": "product"} here'],
         "EXTERNAL_csat_request": ["EXTERNAL_csat_request"]},
        extra=LOOKUPS,
    )  # fmt: skip
    assert quality.load_examples([path]) == [
        quality.Example("order_status", "where is 108342", "orders.yml:6"),
        quality.Example("order_status", "is my linen shirt here", "orders.yml:7"),
    ]


def test_normalising_drops_case_apostrophes_and_punctuation_but_keeps_emoji():
    assert quality.normalise("Where's my ORDER?!") == "wheres my order"
    assert quality.normalise("wheres my stuff 😩") == "wheres my stuff 😩"
    assert quality.normalise("👍") != quality.normalise("👎")


def test_a_near_duplicate_pair_within_an_intent_is_found(tmp_path, encode):
    training = {
        "shipping_info": ["do you deliver on saturdays", "do u deliver on saturdays", "how much is postage"],
        "order_status": ["Where is my order?", "where is my order", *VARIED_ORDER_STATUS[1:]],
    }
    found = run(tmp_path, encode, training).duplicates
    assert [(p.first.text, p.second.text, p.same_text) for p in found] == [
        ("Where is my order?", "where is my order", True),
        ("do you deliver on saturdays", "do u deliver on saturdays", False),
    ]
    assert found[1].similarity >= 0.95


def test_a_contradiction_across_intents_is_found_but_different_emoji_are_not_one(tmp_path, encode):
    training = {
        "cancel_order": ["cancel my order", "i want to cancel"],
        "order_status": ["Cancel my order!", *VARIED_ORDER_STATUS],
        "affirm": ["👍", "yes please"],
        "deny": ["👎", "no thanks"],  # the encoder reads both emoji as one unknown token
    }
    found = run(tmp_path, encode, training).contradictions
    assert [(p.first.intent, p.second.intent, p.first.text, p.second.text) for p in found] == [
        ("cancel_order", "order_status", "cancel my order", "Cancel my order!")
    ]


def test_an_intent_with_three_examples_is_too_few(tmp_path, encode):
    training = {"thank": ["thanks", "cheers", "ta very much"], "order_status": VARIED_ORDER_STATUS}
    shapes = {s.intent: s for s in run(tmp_path, encode, training, min_examples=5).shapes}
    assert shapes["thank"].too_few and shapes["thank"].count == 3
    assert not shapes["order_status"].too_few
    assert run(tmp_path, encode, training, min_examples=5).flagged_shapes == [shapes["thank"]]


def test_an_intent_of_one_template_is_too_uniform_and_a_varied_one_is_not(tmp_path, encode):
    training = {"order_status": [f"track order {n}" for n in range(1, 26)], "greet": VARIED_ORDER_STATUS}
    shapes = {s.intent: s for s in run(tmp_path, encode, training, min_examples=5).shapes}
    uniform = shapes["order_status"]
    assert uniform.too_uniform and not uniform.too_few
    assert (uniform.opening, uniform.opening_share) == ("track order", 1.0)
    assert uniform.similarity > 0.6
    assert not shapes["greet"].too_uniform and shapes["greet"].similarity < 0.6


def test_a_held_out_near_copy_is_a_leak_and_one_into_another_intent_comes_first(tmp_path, encode):
    training = {
        "order_status": ["where's my order", *VARIED_ORDER_STATUS[1:]],
        "cancel_order": ["can i cancel my order"],
    }
    held_out = {"order_status": ["wheres my order", "can i cancel my order", "my parcel never came"]}
    leaks = run(tmp_path, encode, training, held_out).leaks
    assert [(p.first.text, p.second.text, p.second.intent) for p in leaks] == [
        ("can i cancel my order", "can i cancel my order", "cancel_order"),
        ("wheres my order", "where's my order", "order_status"),
    ]
    assert all(p.same_text for p in leaks)


def test_a_held_out_set_of_paraphrases_is_closer_to_training_than_training_is_to_itself(tmp_path, encode):
    held_out = {"order_status": ["where's my order??", "has my parcel shipped", "any update on my delivery"]}
    near = run(tmp_path, encode, {"order_status": VARIED_ORDER_STATUS}, held_out).closeness
    assert near.held_out > near.training + 0.1
    assert near.held_out_same_intent == near.training_same_intent == 1.0


def test_clean_data_has_no_findings(tmp_path, encode):
    found = run(tmp_path, encode, {"order_status": VARIED_ORDER_STATUS}, {"order_status": ["parcel lost??"]},
                min_examples=5)  # fmt: skip
    assert (found.duplicates, found.contradictions, found.leaks, found.flagged_shapes) == ([], [], [], [])


# Shaped like what rasa/nlu/test.py (3.6) writes: sklearn's report plus `confused_with`, and the errors.
REPORT = {
    "order_status": {"precision": 0.8, "recall": 0.75, "f1-score": 0.774, "support": 12,
                     "confused_with": {"cancel_order": 2, "verify_order": 1}},
    "cancel_order": {"precision": 0.83, "recall": 0.83, "f1-score": 0.833, "support": 12,
                     "confused_with": {"order_status": 2}},
    "verify_order": {"precision": 0.92, "recall": 1.0, "f1-score": 0.96, "support": 12, "confused_with": {}},
    "accuracy": 0.861,
    "macro avg": {"precision": 0.85, "recall": 0.86, "f1-score": 0.856, "support": 36},
    "weighted avg": {"precision": 0.85, "recall": 0.86, "f1-score": 0.857, "support": 36},
    "micro avg": {"precision": 0.86, "recall": 0.86, "f1-score": 0.861, "support": 36},
}  # fmt: skip
ERRORS = [
    {"text": "stop my order pls", "intent": "cancel_order",
     "intent_prediction": {"name": "order_status", "confidence": 0.74}},
    {"text": "tracking", "intent": "order_status",
     "intent_prediction": {"name": "verify_order", "confidence": 0.99}},
    {"text": "can u check 112930", "intent": "order_status",
     "intent_prediction": {"name": "cancel_order", "confidence": 0.62}},
    {"text": "where is it, cancel it", "intent": "order_status",
     "intent_prediction": {"name": "cancel_order", "confidence": 0.51}},
    {"text": "changed my mind", "intent": "cancel_order",
     "intent_prediction": {"name": "order_status", "confidence": 0.97}},
]  # fmt: skip


def test_rasas_cross_validation_output_becomes_a_table_worst_intent_first(tmp_path):
    (tmp_path / "intent_report.json").write_text(json.dumps(REPORT))
    (tmp_path / "intent_errors.json").write_text(json.dumps(ERRORS))
    cv = quality.read_cross_validation(tmp_path, worst_per_intent=2)
    assert (cv.macro_f1, cv.accuracy, cv.weighted_f1) == (0.856, 0.861, 0.857)
    assert [(s.intent, s.f1, s.support) for s in cv.intents] == [
        ("order_status", 0.774, 12), ("cancel_order", 0.833, 12), ("verify_order", 0.96, 12),
    ]  # fmt: skip
    order_status = cv.intents[0]
    assert order_status.confused_with == [("cancel_order", 2), ("verify_order", 1)]
    assert [(m.text, m.predicted, m.confidence) for m in order_status.worst] == [
        ("tracking", "verify_order", 0.99), ("can u check 112930", "cancel_order", 0.62),
    ]  # fmt: skip
    assert cv.intents[2].confused_with == [] and cv.intents[2].worst == []
    assert cv.top_confusions(2) == [("cancel_order", "order_status", 2), ("order_status", "cancel_order", 2)]
    assert cv.confused_pairs() == [
        ("cancel_order", "order_status", 2, 2), ("order_status", "verify_order", 1, 0),
    ]  # fmt: skip


def test_without_the_errors_file_rasas_own_top_confusions_are_used(tmp_path):
    (tmp_path / "intent_report.json").write_text(json.dumps(REPORT))
    cv = quality.read_cross_validation(tmp_path)
    assert cv.intents[0].confused_with == [("cancel_order", 2), ("verify_order", 1)]
    assert cv.intents[0].worst == [] and cv.errors == []
    assert cv.top_confusions(1) == [("cancel_order", "order_status", 2)]


def test_the_projects_held_out_sets_hold_no_near_copy_of_training_and_training_no_contradiction(encode):
    """The NLU gate in `make test` is honest only while this holds (the report's sections 2 and 5)."""
    training = quality.load_examples(sorted((ROOT / "data" / "nlu").glob("*.yml")))
    held_out = quality.load_examples(sorted((ROOT / "tests" / "nlu").glob("*.yml")))
    findings = quality.check(training, held_out, encode)
    assert [(p.first.text, p.second.text) for p in findings.leaks] == []
    assert [(p.first.text, p.second.text) for p in findings.contradictions] == []
