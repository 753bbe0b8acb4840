"""The Markdown of the NLU data-quality report (results/nlu_quality/report.md), for scripts/nlu_quality.py.

Each section says what was checked, the threshold, and what a content editor should do; README.md,
"The data-quality report", explains how to read it.
"""

from __future__ import annotations

import datetime as dt

from bot.nlu import quality

ATTENTION_F1 = 0.85  # an intent cross-validated below this is listed under "needs attention"
MAX_ROWS = 60  # per table; the rest are counted, not listed
READ_AS = 4  # confusions named per intent in the table
CLOSER_BY = 0.05  # held-out this much closer to training than training to itself: worth saying


def quote(text: str) -> str:
    """An example as a code span: shown exactly, `*` and `_` not read as emphasis, `|` kept in its cell."""
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table, cut at MAX_ROWS with a line saying how many were left out."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        lines.append(f"\n... and {len(rows) - MAX_ROWS} more.")
    return [*lines, ""]


def shape_reasons(shape: quality.IntentShape, limits: quality.Thresholds) -> str:
    """Why an intent is flagged, in words."""
    reasons = []
    if shape.too_few:
        reasons.append(f"too few: {shape.count} examples, {limits.min_examples} wanted")
    if shape.similarity >= limits.uniform_similarity:
        reasons.append(f"too uniform: any two examples are {shape.similarity:.2f} alike on average")
    if shape.opening_share >= limits.uniform_opening:
        reasons.append(f"too uniform: {shape.opening_share:.0%} open with the same words")
    return "; ".join(reasons)


def attention(findings: quality.Findings, cv: quality.CrossValidation | None) -> list[str]:
    """One line per kind of problem, with what to do about it."""
    lines = []
    if cv is not None:
        weak = [s for s in cv.intents if s.f1 < ATTENTION_F1]
        if weak:
            worst = ", ".join(f"{s.intent} {s.f1:.2f}" for s in weak[:3])
            lines.append(
                f"{len(weak)} of {len(cv.intents)} intents cross-validate below F1 {ATTENTION_F1}; "
                f"the worst: {worst} (section 1)"
            )
        pairs = "; ".join(mixed(*pair) for pair in cv.confused_pairs(3))
        if pairs:
            lines.append(f"most mixed up: {pairs} (add contrasting examples, or merge the intents)")
    if findings.contradictions:
        count = len(findings.contradictions)
        lines.append(f"{count} contradictions: one text, two intents (decide which label is right)")
    if findings.duplicates:
        count = len(findings.duplicates)
        lines.append(f"{count} near-duplicate pairs (delete one of each: it adds nothing)")
    few = [s for s in findings.shapes if s.too_few]
    if few:
        listed = ", ".join(f"{s.intent} ({s.count})" for s in few)
        lines.append(f"{len(few)} intents with too few examples: {listed} (write more, varied ones)")
    uniform = [s.intent for s in findings.shapes if s.too_uniform]
    if uniform:
        lines.append(f"{len(uniform)} intents with too uniform examples: {', '.join(uniform)}")
    if findings.leaks:
        lines.append(
            f"{len(findings.leaks)} held-out examples are near-copies of training examples "
            "(the held-out score is not honest until they are rewritten)"
        )
    near = findings.closeness
    if near.held_out - near.training >= CLOSER_BY:
        lines.append(
            f"the held-out set is closer to training than training is to itself ({near.held_out:.2f} vs "
            f"{near.training:.2f} alike to the nearest example), so the held-out gate flatters the bot"
        )
    return lines


def mixed(a: str, b: str, forth: int, back: int) -> str:
    """How often two intents were mixed up, e.g. "a ↔ b 27 times (14 one way, 13 the other)"."""
    if not back:
        return f"{a} → {b} {forth} times (never the other way)"
    return f"{a} ↔ {b} {forth + back} times ({forth} one way, {back} the other)"


def confusion_section(cv: quality.CrossValidation | None, note: str, folds: int) -> list[str]:
    """Section 1: the cross-validated scores and confusions."""
    lines = ["## 1. Which intents get confused (cross-validation)", ""]
    if cv is None:
        return [*lines, "Not run (`--no-cv`). Run `make nlu-report` without it for this part.", ""]
    if note:
        lines += [f"**{note}**", ""]
    examples = sum(s.support for s in cv.intents)
    lines += [
        f"Macro F1 **{cv.macro_f1:.3f}** (the mean of the intents' F1, each counts the same), accuracy "
        f"{cv.accuracy:.3f}, over {examples} training examples in {len(cv.intents)} intents, each predicted "
        f"by a model that did not see it ({folds} folds, drawn at random: figures move by a point or two "
        "between runs).",
        "",
    ]
    lines += [
        "Expect this to be lower than the held-out gate of `make test`: each model here learns from two "
        "thirds of the examples, and an example phrased like no other example of its intent cannot be "
        "learned from the rest. The mistakes below show which phrasings stand alone.",
        "",
    ]
    pairs = cv.confused_pairs(5)
    if pairs:
        lines += ['Intents mixed up most often ("one way": the first read as the second):', ""]
        lines += [f"- {mixed(*pair)}" for pair in pairs]
        lines.append("")
    lines += [
        "![Intent confusion matrix](intent_confusion_matrix.png)",
        "",
        "In the matrix each row is the intent an example is labelled with, each column what the model "
        "said; the diagonal are the right answers, every other number is a confusion.",
        "",
    ]
    rows = []
    for s in cv.intents:
        read_as = ", ".join(f"{other} ({n})" for other, n in s.confused_with[:READ_AS]) or "-"
        if len(s.confused_with) > READ_AS:
            rest = s.confused_with[READ_AS:]
            read_as += f", {len(rest)} other intents ({sum(n for _, n in rest)} times)"
        worst = "<br>".join(f"{quote(m.text)} → {m.predicted} ({m.confidence:.2f})" for m in s.worst) or "-"
        rows.append([s.intent, f"{s.f1:.2f}", str(s.support), read_as, worst])
    headers = ["intent", "F1", "examples", "read as (times)", "most confident mistakes"]
    return lines + table(headers, rows)


def pair_rows(pairs: list[quality.Pair]) -> list[list[str]]:
    """Table rows of pairs: how alike, then both examples with their intents and files."""
    return [
        [
            "same words" if p.same_text else f"{p.similarity:.2f}",
            f"{quote(p.first.text)} ({p.first.intent}, {p.first.source})",
            f"{quote(p.second.text)} ({p.second.intent}, {p.second.source})",
        ]
        for p in pairs
    ]


def render(
    findings: quality.Findings, cv: quality.CrossValidation | None, cv_note: str, command: str, folds: int
) -> str:
    """The whole report as Markdown."""
    limits = quality.Thresholds()
    needs = attention(findings, cv)
    lines = [
        "# NLU data-quality report",
        "",
        f"Made {dt.datetime.now():%Y-%m-%d %H:%M} by `{command}`. How to read it: README.md, "
        '"For content editors", "The data-quality report".',
        "",
        "## What needs attention",
        "",
        *([f"- {line}" for line in needs] or ["Nothing."]),
        "",
        *confusion_section(cv, cv_note, folds),
        "## 2. Contradictions: the same text under two intents",
        "",
        f"Identical after normalising, or similarity at least {limits.contradiction}. Decide which intent "
        "the text belongs to and remove or reword the other.",
        "",
        *(table(["alike", "example", "contradicted by"], pair_rows(findings.contradictions))
          if findings.contradictions else ["None.", ""]),
        "## 3. Near-duplicates within an intent",
        "",
        f"Identical after normalising, or similarity at least {limits.duplicate}. Delete one of each pair: "
        "it teaches the model nothing new.",
        "",
        *(table(["alike", "example", "near-copy"], pair_rows(findings.duplicates))
          if findings.duplicates else ["None.", ""]),
        "## 4. Intents with too few or too uniform examples",
        "",
        f"Too few: under {limits.min_examples} examples. Too uniform: any two examples at least "
        f"{limits.uniform_similarity} alike on average, or at least {limits.uniform_opening:.0%} opening "
        "with the same two words. Write more examples that say it differently.",
        "",
    ]  # fmt: skip
    flagged = findings.flagged_shapes
    shape_rows = [
        [s.intent, str(s.count), f"{s.similarity:.2f}", f"{quote(s.opening)} ({s.opening_share:.0%})",
         shape_reasons(s, limits)]
        for s in flagged
    ]  # fmt: skip
    headers = ["intent", "examples", "alike on average", "most common opening", "why"]
    lines += table(headers, shape_rows) if flagged else ["None.", ""]
    lines += [
        "## 5. Held-out examples copied from training (leakage)",
        "",
        f"A held-out example (tests/nlu/) identical after normalising to a training example, or similarity "
        f"at least {limits.leakage}. Rewrite the held-out one: until then the held-out score measures "
        "memory, not understanding. A leak into another intent is listed first: it is a contradiction too.",
        "",
    ]
    lines += (
        table(["alike", "held-out example", "training example"], pair_rows(findings.leaks))
        if findings.leaks
        else ["None.", ""]
    )
    near = findings.closeness
    lines += [
        "How close the two sets are, below the leak threshold too: a held-out example is on average "
        f"**{near.held_out:.2f}** alike to its nearest training example, a training example "
        f"**{near.training:.2f}** to its nearest other one; that nearest example has the same intent "
        f"for {near.held_out_same_intent:.0%} of held-out and {near.training_same_intent:.0%} of training "
        "examples. "
        "A held-out set much closer to training than training is to itself scores higher than new messages "
        "will; write held-out examples as new customers would, not as variations of the training ones.",
        "",
    ]
    return "\n".join(lines)
