"""The regression report's pure part: scores as scikit-learn computes them, changed examples, the verdict."""

from __future__ import annotations

import json

import pytest
from sklearn.metrics import accuracy_score, classification_report, f1_score

from bot.content import nlu_report
from bot.content.nlu_report import Limits, Reading

# A held-out set of four intents, read by a model that errs in every way the report must count: into
# another held-out intent, into an intent without held-out examples, into nlu_fallback, and into nothing.
EXPECTED = ["greet"] * 5 + ["refund_status"] * 6 + ["cancel_order"] * 4 + ["order_status"] * 3
PREDICTED = (
    ["greet", "greet", "greet", "goodbye", None]
    + ["refund_status"] * 4 + ["cancel_order", "nlu_fallback"]
    + ["cancel_order", "cancel_order", "cancel_order", "refund_status"]
    + ["order_status", "order_status", "cancel_order"]
)  # fmt: skip


def readings(expected: list[str], predicted: list[str | None]) -> list[Reading]:
    """One reading per example; the texts only need to be the same for both models."""
    return [
        Reading(f"example {i}", e, p or "") for i, (e, p) in enumerate(zip(expected, predicted, strict=True))
    ]


def test_per_intent_scores_and_macro_f1_are_scikit_learns_on_the_held_out_labels():
    scores = nlu_report.score(EXPECTED, PREDICTED)
    cleaned = [p or "" for p in PREDICTED]  # what rasa test nlu hands scikit-learn for "no intent"
    labels = sorted(set(EXPECTED))
    report = classification_report(EXPECTED, cleaned, labels=labels, output_dict=True, zero_division=0)

    assert list(scores.intents) == labels  # goodbye, nlu_fallback and "" are predictions, not rows
    for intent in labels:
        ours, theirs = scores.intents[intent], report[intent]
        assert ours.precision == pytest.approx(theirs["precision"])
        assert ours.recall == pytest.approx(theirs["recall"])
        assert ours.f1 == pytest.approx(theirs["f1-score"])
        assert ours.support == theirs["support"]
    assert scores.macro_f1 == pytest.approx(report["macro avg"]["f1-score"])
    assert scores.accuracy == pytest.approx(accuracy_score(EXPECTED, cleaned))
    assert scores.intents["greet"].precision == 1.0 and scores.intents["greet"].recall == pytest.approx(0.6)


def test_an_intent_never_predicted_scores_zero_as_scikit_learn_does():
    expected, predicted = ["a", "a", "b", "b"], ["b", "b", "b", "b"]
    scores = nlu_report.score(expected, predicted)
    assert scores.intents["a"].f1 == 0.0 and scores.intents["a"].precision == 0.0
    assert scores.macro_f1 == pytest.approx(f1_score(expected, predicted, average="macro", zero_division=0))


def test_changes_say_which_examples_were_fixed_broken_or_wrong_another_way():
    before = readings(["a", "a", "b", "b"], ["b", "a", "b", "a"])
    after = readings(["a", "a", "b", "b"], ["a", "b", "b", "c"])
    found = nlu_report.changes(before, after)
    assert [(c.text, c.before, c.after, c.change) for c in found] == [
        ("example 0", "b", "a", "fixed"),
        ("example 1", "a", "b", "broken"),
        ("example 3", "a", "c", "still wrong"),
    ]


def test_two_models_read_on_different_examples_are_refused():
    with pytest.raises(ValueError, match="same held-out examples"):
        nlu_report.changes(readings(["a"], ["a"]), [Reading("another text", "a", "a")])


def test_a_drop_names_the_intent_its_f1_and_where_its_examples_went():
    # refund_status: 12 held-out examples, 11 right before; after, 3 of the right ones read as cancel_order.
    expected = ["refund_status"] * 12 + ["cancel_order"] * 12 + ["greet"] * 12
    before_said = ["refund_status"] * 11 + ["greet"] + ["cancel_order"] * 12 + ["greet"] * 12
    after_said = (
        ["cancel_order"] * 3 + ["refund_status"] * 8 + ["greet"] + ["cancel_order"] * 12 + ["greet"] * 12
    )
    before, after = readings(expected, before_said), readings(expected, after_said)
    report = nlu_report.build(before, after, Limits(min_f1=0.5), **PATHS)

    old = f1_score(expected, before_said, labels=["refund_status"], average=None)[0]
    new = f1_score(expected, after_said, labels=["refund_status"], average=None)[0]
    assert old - new > 0.05
    cancel_old = f1_score(expected, before_said, labels=["cancel_order"], average=None)[0]
    cancel_new = f1_score(expected, after_said, labels=["cancel_order"], average=None)[0]
    assert cancel_old - cancel_new > 0.05  # it lost precision: refund_status examples read as it
    macro_old = f1_score(expected, before_said, average="macro")
    macro_new = f1_score(expected, after_said, average="macro")
    assert report["reasons"] == [  # the macro first, then the intents by name
        f"macro F1 fell {macro_old:.3f} -> {macro_new:.3f} (by {macro_old - macro_new:.3f}; "
        "at most 0.01 is allowed)",
        f"cancel_order F1 {cancel_old:.2f} -> {cancel_new:.2f} "
        "(3 examples of other intents now read as cancel_order: 3 of refund_status)",
        f"refund_status F1 {old:.2f} -> {new:.2f} (3 of its 12 held-out examples now read as cancel_order)",
    ]
    assert report["verdict"] == "not safe to ship" and report["safe"] is False
    assert [c["change"] for c in report["changed"]] == ["broken"] * 3


PATHS = {
    "baseline_model": "models/model-0123456789abcdef.tar.gz",
    "candidate_model": "var/nlu-check/candidate.tar.gz",
    "trained": True,
    "data_note": "changed",
    "data_unchanged": False,
    "heldout": "tests/nlu",
    "fallback_counted": False,
}


def test_reasons_are_in_a_stable_order():
    expected = ["a"] * 4 + ["b"] * 4
    before = readings(expected, expected)
    after = readings(expected, ["b"] * 4 + ["b"] * 4)
    reasons = nlu_report.build(before, after, Limits(), **PATHS)["reasons"]
    assert [r.split(" ")[0] for r in reasons] == ["macro", "macro", "a", "b"]
    assert (
        reasons[0]
        == f"macro F1 {f1_score(expected, ['b'] * 8, average='macro'):.3f} is below the gate of 0.93"
    )
    assert reasons[2] == "a F1 1.00 -> 0.00 (4 of its 4 held-out examples now read as b)"


def test_a_model_below_the_gate_is_not_safe_even_when_nothing_changed():
    before = readings(EXPECTED, PREDICTED)
    report = nlu_report.build(before, before, Limits(min_f1=0.93), **PATHS)
    macro = nlu_report.score(EXPECTED, PREDICTED).macro_f1
    assert macro < 0.93
    assert report["reasons"] == [f"macro F1 {macro:.3f} is below the gate of 0.93"]
    assert report["changed"] == [] and report["verdict"] == "not safe to ship"


def test_an_improvement_is_safe_and_lists_the_fixed_examples():
    fixed = list(EXPECTED)
    fixed[4] = PREDICTED[4]  # one example still unread: the after model is good, not perfect
    before, after = readings(EXPECTED, PREDICTED), readings(EXPECTED, fixed)
    report = nlu_report.build(before, after, Limits(min_f1=0.93), **PATHS)
    assert report["safe"] is True and report["verdict"] == "safe to ship" and report["reasons"] == []
    labels = sorted(set(EXPECTED))  # as rasa test nlu: "" (no intent) is a wrong answer, not a label
    macro = f1_score(EXPECTED, [p or "" for p in fixed], labels=labels, average="macro")
    assert report["candidate"]["macro_f1"] == pytest.approx(macro, abs=1e-4)
    assert report["candidate"]["macro_f1"] > report["baseline"]["macro_f1"]
    wrong_before = sum(e != (p or "") for e, p in zip(EXPECTED, PREDICTED, strict=True))
    assert [c["change"] for c in report["changed"]] == ["fixed"] * (wrong_before - 1)
    assert all(row["delta_f1"] >= 0 for row in report["intents"])


def test_an_intent_with_few_held_out_examples_may_drop():
    expected = ["a"] * 2 + ["b"] * 10
    before = readings(expected, expected)
    after = readings(expected, ["b", "a"] + ["b"] * 10)
    limits = Limits(min_f1=0.0, max_macro_drop=1.0)  # the per-intent rule alone
    assert nlu_report.build(before, after, limits, **PATHS)["reasons"] == []
    assert nlu_report.build(before, after, Limits(min_f1=0.0, max_macro_drop=1.0, min_support=2), **PATHS)[
        "reasons"
    ] == ["a F1 1.00 -> 0.67 (1 of its 2 held-out examples now read as b)"]


def test_a_drop_of_exactly_the_limit_is_allowed():
    # a: F1 0.80 (8 of 10 found, 2 false alarms) -> 0.75 (6 of 10, none): 0.05 exactly, 0.0500000000000000444
    # in floating point.
    expected = ["a"] * 10 + ["b"] * 10
    before = readings(expected, ["a"] * 8 + ["b"] * 2 + ["a"] * 2 + ["b"] * 8)
    after = readings(expected, ["a"] * 6 + ["b"] * 4 + ["b"] * 10)
    old, new = nlu_report.scores_of(before), nlu_report.scores_of(after)
    assert old.intents["a"].f1 - new.intents["a"].f1 > 0.05  # the float, not the number
    reasons = nlu_report.reasons(
        old, new, nlu_report.changes(before, after), Limits(min_f1=0, max_macro_drop=1)
    )
    assert not [r for r in reasons if r.startswith("a ")]


def test_the_saved_report_renders_the_same_from_json():
    before, after = readings(EXPECTED, PREDICTED), readings(EXPECTED, EXPECTED)
    report = nlu_report.build(
        before, after, Limits(), **PATHS, unmeasured_intents=["goodbye"], timings={"train": 61.23}
    )
    saved = json.loads(json.dumps(report))
    assert nlu_report.markdown(saved) == nlu_report.markdown(report)
    text = nlu_report.markdown(saved)
    assert text.startswith("# NLU regression report\n\n**Safe to ship.**")
    assert "(not measured): goodbye" in text and "train 61.2 s" in text
    assert "| `example 4` | greet | - | greet | fixed |" in text
    terminal = nlu_report.table(saved)
    assert terminal.splitlines()[-1] == "SAFE TO SHIP"
    assert "macro F1" in terminal and "fixed       'example 4': greet (before -, after greet)" in terminal


def test_examples_the_fallback_answers_now_or_no_longer_are_listed_and_change_no_score():
    before = [Reading("a1", "a", "a", 0.9), Reading("a2", "a", "a", 0.4, True), Reading("b1", "b", "b", 0.9)]
    after = [Reading("a1", "a", "a", 0.45, True), Reading("a2", "a", "a", 0.8), Reading("b1", "b", "b", 0.9)]
    report = nlu_report.build(before, after, Limits(), **PATHS)
    assert report["fallback_changed"] == [
        {"text": "a1", "expected": "a", "read_as": "a", "falls_back": True},
        {"text": "a2", "expected": "a", "read_as": "a", "falls_back": False},
    ]
    assert (
        report["changed"] == [] and report["baseline"]["fallbacks"] == report["candidate"]["fallbacks"] == 1
    )
    assert report["candidate"]["macro_f1"] == report["baseline"]["macro_f1"] == 1.0
    text = nlu_report.markdown(report)
    assert "| `a1` | a | a | now |" in text and "| `a2` | a | a | no longer |" in text
