"""The regression report of a change to the NLU data: scores before and after, what changed, a verdict.

`bot nlu check` (scripts/nlu_check.py, runtime A) reads every held-out example with the model now served
and with one trained on the changed data, then hands both readings to this module. Everything here is
pure (no Rasa, no scikit-learn), so the desk (runtime B) can render a saved report.json too.

Scores follow `rasa test nlu`, which `make test-nlu` gates: the labels are the intents of the held-out
set, a prediction of any other name (an intent without held-out examples, `nlu_fallback`) only counts
against the expected intent's recall, and macro F1 is the plain mean of the held-out intents' F1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

SCHEMA = 1
SAFE = "safe to ship"
NOT_SAFE = "not safe to ship"
FIXED, BROKEN, STILL_WRONG = "fixed", "broken", "still wrong"
ROUNDING = 9  # differences are compared after rounding: 0.90 - 0.85 is 0.05000000000000004 in floats


@dataclass(frozen=True)
class Limits:
    """When a change is safe to ship; the defaults are issue 17's."""

    min_f1: float = 0.93  # macro F1 after the change, the gate of `make test-nlu`
    max_macro_drop: float = 0.01
    max_intent_drop: float = 0.05  # F1 an intent may lose ...
    min_support: int = 3  # ... when it has at least this many held-out examples (fewer: too noisy to judge)


@dataclass(frozen=True)
class Reading:
    """One held-out example as one model read it."""

    text: str
    expected: str
    predicted: str  # the intent that is scored ("" when the model gave none)
    confidence: float | None = None
    fell_back: bool = False  # FallbackClassifier answered `nlu_fallback` (served: "sorry, I didn't get that")


@dataclass(frozen=True)
class IntentScore:
    """Precision, recall and F1 of one intent over the held-out set."""

    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Scores:
    """A model's scores over the held-out set."""

    intents: dict[str, IntentScore]
    macro_f1: float
    accuracy: float


@dataclass(frozen=True)
class Change:
    """A held-out example the two models read differently."""

    text: str
    expected: str
    before: str
    after: str
    change: str  # FIXED, BROKEN or STILL_WRONG (wrong both times, in another way)


def score(expected: Sequence[str], predicted: Sequence[str | None]) -> Scores:
    """Per-intent scores and macro F1, as scikit-learn's classification_report on the expected labels."""
    if len(expected) != len(predicted):
        raise ValueError(f"{len(expected)} expected labels but {len(predicted)} predictions")
    guesses = [p or "" for p in predicted]
    pairs = list(zip(expected, guesses, strict=True))
    support = Counter(expected)
    said = Counter(guesses)
    right = Counter(e for e, p in pairs if e == p)
    intents = {}
    for intent in sorted(support):
        hits = right[intent]
        precision = hits / said[intent] if said[intent] else 0.0
        recall = hits / support[intent]
        f1 = 2 * hits / (said[intent] + support[intent])  # the harmonic mean of the two, 0 when both are
        intents[intent] = IntentScore(intent, precision, recall, f1, support[intent])
    macro = sum(s.f1 for s in intents.values()) / len(intents) if intents else 0.0
    accuracy = sum(right.values()) / len(pairs) if pairs else 0.0
    return Scores(intents, macro, accuracy)


def scores_of(readings: Sequence[Reading]) -> Scores:
    """The scores of one model's readings."""
    return score([r.expected for r in readings], [r.predicted for r in readings])


def changes(before: Sequence[Reading], after: Sequence[Reading]) -> list[Change]:
    """The examples read differently, in held-out order; both sequences hold the same examples."""
    if [(r.text, r.expected) for r in before] != [(r.text, r.expected) for r in after]:
        raise ValueError("the two models were not read on the same held-out examples")
    found = []
    for old, new in zip(before, after, strict=True):
        if old.predicted == new.predicted:
            continue
        if new.predicted == new.expected:
            kind = FIXED
        else:
            kind = BROKEN if old.predicted == old.expected else STILL_WRONG
        found.append(Change(new.text, new.expected, old.predicted, new.predicted, kind))
    return found


def fallback_changes(before: Sequence[Reading], after: Sequence[Reading]) -> list[Reading]:
    """After's readings of the examples the fallback answers now and did not before, or the other way.

    Scored as `rasa test nlu` does, the fallback is undone, so these change no F1; a customer who wrote
    one of them gets "sorry, I didn't get that" (or stops getting it): worth seeing.
    """
    changes(before, after)  # the same examples, or ValueError
    return [new for old, new in zip(before, after, strict=True) if old.fell_back != new.fell_back]


def _counted(names: Counter[str]) -> str:
    """How often each name was read, most first: "2 as cancel_order, 1 as order_status"."""
    return ", ".join(f"{n} as {name or 'no intent'}" for name, n in names.most_common())


def _why_intent_dropped(intent: str, support: int, changed: Sequence[Change]) -> str:
    """The broken examples behind an intent's drop, in words."""
    lost = Counter(c.after for c in changed if c.expected == intent and c.change == BROKEN)
    taken = Counter(c.expected for c in changed if c.after == intent != c.expected and c.before != intent)
    parts = []
    if len(lost) == 1:
        other, n = next(iter(lost.items()))
        parts.append(f"{n} of its {support} held-out examples now read as {other or 'no intent'}")
    elif lost:
        total = sum(lost.values())
        parts.append(f"{total} of its {support} held-out examples now read otherwise: {_counted(lost)}")
    if taken:
        others = ", ".join(f"{n} of {name}" for name, n in taken.most_common())
        parts.append(f"{sum(taken.values())} examples of other intents now read as {intent}: {others}")
    return "; ".join(parts) or "its examples read as before, other intents' readings changed"


def reasons(before: Scores, after: Scores, changed: Sequence[Change], limits: Limits) -> list[str]:
    """Why the change is not safe to ship, in plain words; empty when it is."""
    found = []
    if after.macro_f1 < limits.min_f1:
        found.append(f"macro F1 {after.macro_f1:.3f} is below the gate of {limits.min_f1:.2f}")
    drop = round(before.macro_f1 - after.macro_f1, ROUNDING)
    if drop > limits.max_macro_drop:
        found.append(
            f"macro F1 fell {before.macro_f1:.3f} -> {after.macro_f1:.3f} "
            f"(by {drop:.3f}; at most {limits.max_macro_drop:.2f} is allowed)"
        )
    for intent, old in before.intents.items():
        new = after.intents[intent]
        lost = round(old.f1 - new.f1, ROUNDING)
        if old.support >= limits.min_support and lost > limits.max_intent_drop:
            why = _why_intent_dropped(intent, old.support, changed)
            found.append(f"{intent} F1 {old.f1:.2f} -> {new.f1:.2f} ({why})")
    return found


def _rounded(value: float) -> float:
    return round(value, 4)


def build(
    before: Sequence[Reading],
    after: Sequence[Reading],
    limits: Limits,
    *,
    baseline_model: str,
    candidate_model: str,
    trained: bool,
    data_note: str,
    data_unchanged: bool | None,
    heldout: str,
    fallback_counted: bool,
    unmeasured_intents: Sequence[str] = (),
    timings: dict[str, float] | None = None,
    created: str = "",
) -> dict:
    """The whole report as plain data: what report.json holds and the renderers read."""
    old, new = scores_of(before), scores_of(after)
    changed = changes(before, after)
    why = reasons(old, new, changed, limits)
    intents = [
        {
            "intent": name,
            "support": was.support,
            "before": {
                "precision": _rounded(was.precision),
                "recall": _rounded(was.recall),
                "f1": _rounded(was.f1),
            },
            "after": {
                "precision": _rounded(new.intents[name].precision),
                "recall": _rounded(new.intents[name].recall),
                "f1": _rounded(new.intents[name].f1),
            },
            "delta_f1": _rounded(new.intents[name].f1 - was.f1),
        }
        for name, was in old.intents.items()
    ]

    def model(path: str, scores: Scores, readings: Sequence[Reading]) -> dict:
        fallbacks = sum(r.fell_back for r in readings)
        return {"model": path, "macro_f1": _rounded(scores.macro_f1), "accuracy": _rounded(scores.accuracy),
                "fallbacks": fallbacks}  # fmt: skip

    return {
        "schema": SCHEMA,
        "created": created,
        "verdict": NOT_SAFE if why else SAFE,
        "safe": not why,
        "reasons": why,
        "limits": asdict(limits),
        "data_unchanged": data_unchanged,
        "data_note": data_note,
        "heldout": {"path": heldout, "examples": len(before), "intents": len(old.intents)},
        "fallback": "counted as a wrong prediction" if fallback_counted else "undone, as rasa test nlu does",
        "baseline": model(baseline_model, old, before),
        "candidate": {**model(candidate_model, new, after), "trained": trained},
        "intents": intents,
        "changed": [asdict(c) for c in changed],
        "fallback_changed": [
            {"text": r.text, "expected": r.expected, "read_as": r.predicted, "falls_back": r.fell_back}
            for r in fallback_changes(before, after)
        ],
        "unmeasured_intents": list(unmeasured_intents),
        "timings": {k: round(v, 1) for k, v in (timings or {}).items()},
    }


def _cell(text: str) -> str:
    """An example as a Markdown code span: shown exactly, `|` kept in its cell."""
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def _f1_rows(report: dict) -> list[dict]:
    """Intents that lost F1 first (the most first), then those that gained, then the rest by name."""

    def order(row: dict) -> tuple[int, float, str]:
        delta = row["delta_f1"]
        return (0 if delta < 0 else 1 if delta > 0 else 2), -abs(delta), row["intent"]

    return sorted(report["intents"], key=order)


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def markdown(report: dict) -> str:
    """report.md: the verdict first, then what it rests on."""
    base, cand, limits = report["baseline"], report["candidate"], report["limits"]
    made = f" Made {report['created']}." if report["created"] else ""
    lines = [
        "# NLU regression report",
        "",
        f"**{report['verdict'].capitalize()}.**{made}",
        "",
        *[f"- {reason}" for reason in report["reasons"]],
        *([""] if report["reasons"] else []),
        f"Macro F1 on the held-out set ({report['heldout']['examples']} examples of "
        f"{report['heldout']['intents']} intents, `{report['heldout']['path']}`): "
        f"**{base['macro_f1']:.3f} -> {cand['macro_f1']:.3f}**; accuracy {base['accuracy']:.3f} -> "
        f"{cand['accuracy']:.3f}.",
        "",
        f"Safe to ship means: macro F1 at least {limits['min_f1']:.2f}, at most "
        f"{limits['max_macro_drop']:.2f} below before, and no intent with {limits['min_support']} or more "
        f"held-out examples losing more than {limits['max_intent_drop']:.2f} F1.",
        "",
        f"- Data: {report['data_note']}",
        f"- Before: `{base['model']}`; after: `{cand['model']}`"
        + ("" if cand["trained"] else " (not retrained: the same model)"),
        f"- `nlu_fallback`: {report['fallback']}; held-out examples the fallback answers: "
        f"{base['fallbacks']} -> {cand['fallbacks']}",
    ]
    if report["unmeasured_intents"]:
        unmeasured = ", ".join(report["unmeasured_intents"])
        lines.append(f"- Trained intents without held-out examples (not measured): {unmeasured}")
    lines += ["", f"## Held-out examples read differently ({len(report['changed'])})", ""]
    changed = [
        [_cell(c["text"]), c["expected"], c["before"] or "-", c["after"] or "-", c["change"]]
        for c in report["changed"]
    ]
    lines += _md_table(["example", "expected", "before", "after", ""], changed) if changed else ["None."]
    rows = [
        [row["intent"], str(row["support"]), f"{row['before']['f1']:.3f}", f"{row['after']['f1']:.3f}",
         f"{row['delta_f1']:+.3f}", f"{row['before']['precision']:.2f} -> {row['after']['precision']:.2f}",
         f"{row['before']['recall']:.2f} -> {row['after']['recall']:.2f}"]
        for row in _f1_rows(report)
    ]  # fmt: skip
    headers = ["intent", "held-out", "F1 before", "F1 after", "change", "precision", "recall"]
    lines += ["", "## Per intent", "", *_md_table(headers, rows)]
    moved = report["fallback_changed"]
    lines += ["", f"## Held-out examples the fallback answers now, or no longer ({len(moved)})", ""]
    lines += [
        "No F1 above counts these (the fallback is undone, as `rasa test nlu` does), but the customer who "
        "wrote one now gets, or no longer gets, \"sorry, I didn't get that\".",
        "",
    ] if moved else ["None."]  # fmt: skip
    fallback_rows = [
        [_cell(m["text"]), m["expected"], m["read_as"] or "-", "now" if m["falls_back"] else "no longer"]
        for m in moved
    ]
    lines += _md_table(["example", "expected", "read as", "fallback"], fallback_rows) if moved else []
    if report["timings"]:
        spent = ", ".join(f"{k} {v:.1f} s" for k, v in report["timings"].items())
        lines += ["", f"Timings: {spent}."]
    return "\n".join(lines) + "\n"


def table(report: dict, width: int = 26) -> str:
    """The terminal's view: per-intent F1 (changed intents first), changed examples, the verdict."""
    lines = [f"{'intent':{width}} {'n':>4} {'F1 before':>9} {'after':>6} {'change':>7}"]
    for row in _f1_rows(report):
        mark = "  !" if row["delta_f1"] < 0 else ""
        lines.append(
            f"{row['intent'][:width]:{width}} {row['support']:4d} {row['before']['f1']:9.3f} "
            f"{row['after']['f1']:6.3f} {row['delta_f1']:+7.3f}{mark}"
        )
    base, cand = report["baseline"], report["candidate"]
    lines.append(f"{'macro F1':{width}} {'':4} {base['macro_f1']:9.3f} {cand['macro_f1']:6.3f} "
                 f"{cand['macro_f1'] - base['macro_f1']:+7.3f}")  # fmt: skip
    lines.append(f"{'nlu_fallback answers':{width}} {'':4} {base['fallbacks']:9d} {cand['fallbacks']:6d} "
                 f"{cand['fallbacks'] - base['fallbacks']:+7d}")  # fmt: skip
    lines += ["", f"held-out examples read differently: {len(report['changed'])}"]
    for c in report["changed"]:
        lines.append(f"  {c['change']:11} {c['text']!r}: {c['expected']} (before {c['before'] or '-'}, "
                     f"after {c['after'] or '-'})")  # fmt: skip
    lines += ["", report["verdict"].upper() + ("" if report["safe"] else ":")]
    lines += [f"  - {reason}" for reason in report["reasons"]]
    return "\n".join(lines)
