"""NLU quality gate: print the per-intent report of `rasa test nlu` and fail below the F1 threshold.

The gate is macro-averaged F1 over intents (every intent counts the same, so a weak intent cannot hide
behind frequent ones), measured on the held-out set in tests/nlu/ that is never used for training.
The same reading as a model swap's gate (bot/content/model_gate.py: `intent_rows`, `macro_f1`, `MIN_F1`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.content.model_gate import MIN_F1, intent_rows, macro_f1


def main() -> None:
    """Print the report; exit 1 when macro F1 is below --min-f1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="intent_report.json written by `rasa test nlu`")
    parser.add_argument("--min-f1", type=float, default=MIN_F1)
    args = parser.parse_args()
    if not args.report.exists():
        sys.exit(f"nlu gate: {args.report} not found (did `rasa test nlu` run?)")
    report = json.loads(args.report.read_text())

    intents = intent_rows(report)
    print(f"{'intent':24} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>4}")
    for name, row in sorted(intents.items(), key=lambda item: item[1]["f1-score"]):
        scores = f"{row['precision']:9.3f} {row['recall']:7.3f} {row['f1-score']:6.3f}"
        print(f"{name:24} {scores} {row['support']:4d}")
    macro = macro_f1(report)
    print(
        f"\naccuracy {report['accuracy']:.3f}  weighted F1 {report['weighted avg']['f1-score']:.3f}  "
        f"macro F1 {macro:.3f}  (gate: macro F1 >= {args.min_f1:.2f})"
    )
    if macro < args.min_f1:
        sys.exit(f"nlu gate FAILED: macro F1 {macro:.3f} < {args.min_f1:.2f}")
    print("nlu gate passed")


if __name__ == "__main__":
    main()
