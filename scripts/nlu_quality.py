"""The NLU data-quality report for content editors: which intents get confused, and what to fix in data/nlu.

Runs in runtime A (`make nlu-report`). Two parts:

1. Cross-validation (a few minutes): `rasa test nlu --cross-validation` trains one model per fold on
   the other folds of data/nlu and tests it on the examples it has not seen, so every training example
   is predicted once by a model that never saw it. Skipped with --no-cv. It runs config.yml's pipeline
   without the components that do not choose the intent (DIET finds only entities, the sentiment
   model only scores tone) and would take most of the time: `intent_config`.
2. Static checks (seconds, bot/nlu/quality.py): near-duplicates, contradictions, intents with too few or
   too uniform examples, held-out examples copied from training.

Writes results/nlu_quality/report.md (with the confusion matrix PNG beside it) and prints what needs
attention. The exit code is 0 whatever the data look like (it is a report); 1 only when a part could
not run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import yaml
from nlu_quality_report import ATTENTION_F1, attention, render

from bot.nlu import quality
from bot.nlu.encoder import EncoderMissing, SentenceEncoder

ROOT = Path(__file__).resolve().parents[1]
TRAINING = ROOT / "data" / "nlu"
HELD_OUT = ROOT / "tests" / "nlu"
ENCODER = ROOT / "models" / "encoder"
CONFIG = ROOT / "config.yml"
DEFAULT_OUT = ROOT / "results" / "nlu_quality"
PLOTS = ("intent_confusion_matrix.png", "intent_histogram.png")

# Lines of Rasa's output that mark where a cross-validation run is (rasa/nlu/test.py, model_training.py).
FOLD_STARTS = re.compile(r"Starting to train component")
FOLD_TRAINED = re.compile(r"Your Rasa model is trained and saved")
DIET_EPOCHS = re.compile(r"^Epochs:\s+(\d+)%")
# Components that never choose the intent, left out of the cross-validation's pipeline.
NOT_INTENT = {"bot.nlu.sentiment.SentimentAnalyzer"}


def nlu_files(folder: Path) -> list[Path]:
    """The topic files of an NLU folder (lookups, synonyms and regexes live below it and are skipped)."""
    return sorted(folder.glob("*.yml"))


def output_lines(stream: IO[bytes]) -> Iterator[str]:
    """Lines of a child's output as they come, split at carriage returns too (progress bars use them)."""
    pending = b""
    while chunk := stream.read1(4096):  # type: ignore[attr-defined]  # a BufferedReader
        pending += chunk
        *lines, pending = re.split(rb"\r\n|\r|\n", pending)
        for line in lines:
            yield line.decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")


def intent_config(config: Path, target: Path) -> list[str]:
    """Write `config` without the components that play no part in choosing the intent; their names.

    DIET runs with `intent_classification: false` (it finds entities) and the sentiment model scores
    tone: together they are most of a fold's training time and change no intent. The report is about
    intents, so each fold trains what picks them. Nothing is left out of a pipeline where DIET still
    classifies intents.
    """
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    kept, left_out = [], []
    for component in data.get("pipeline") or []:
        name = str(component.get("name", ""))
        entity_only = name == "DIETClassifier" and component.get("intent_classification") is False
        if entity_only or name in NOT_INTENT:
            left_out.append(name.rsplit(".", 1)[-1])
        else:
            kept.append(component)
    data["pipeline"] = kept
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return left_out


def run_cross_validation(folds: int, out: Path, log: Path, verbose: bool) -> bool:
    """Run `rasa test nlu --cross-validation`, printing progress; True when it finished."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    config = out / "config_intents.yml"
    left_out = intent_config(CONFIG, config)
    rasa = Path(sys.executable).with_name("rasa")
    command = [
        str(rasa), "test", "nlu", "--cross-validation", "--folds", str(folds),
        "--config", str(config), "--nlu", str(TRAINING), "--out", str(out),
    ]  # fmt: skip
    env = dict(os.environ)
    for name, value in (
        ("RASA_TELEMETRY_ENABLED", "false"),
        ("TF_CPP_MIN_LOG_LEVEL", "2"),
        ("PYTHONWARNINGS", "ignore::DeprecationWarning"),
    ):
        env.setdefault(name, value)
    print(
        f"cross-validation: {folds} folds; each trains a model on {folds - 1} of {folds} parts of data/nlu "
        "and tests it on the rest.\n  This takes a few minutes. Rasa's output goes to "
        f"{log.relative_to(ROOT)}",
        flush=True,
    )
    if left_out:
        print(f"  left out of each fold (they do not choose the intent): {', '.join(left_out)}", flush=True)
    started = fold_started = time.monotonic()
    fold, training, shown = 0, False, -1
    with log.open("w", encoding="utf-8", buffering=1) as sink:  # line by line, for `tail -f`
        # cwd: config.yml names the encoder as a path relative to the project.
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for line in output_lines(child.stdout):
            sink.write(line + "\n")
            if verbose:
                print(f"    | {line}", flush=True)
            if not training and FOLD_STARTS.search(line):
                fold, training, shown, fold_started = fold + 1, True, -1, time.monotonic()
                print(f"  training fold {fold} of {folds} ...", flush=True)
            elif training and (epochs := DIET_EPOCHS.match(line)):
                quarter = int(epochs.group(1)) // 25
                if quarter > shown and 0 < quarter < 4:
                    print(f"    fold {fold}: DIET {quarter * 25}% of its epochs", flush=True)
                shown = max(shown, quarter)
            elif FOLD_TRAINED.search(line):
                training = False
                took = (time.monotonic() - fold_started) / 60
                per_fold = (time.monotonic() - started) / 60 / fold
                left = f", about {per_fold * (folds - fold):.0f} min to go" if fold < folds else ""
                print(f"  fold {fold} of {folds} trained in {took:.1f} min; testing it{left}", flush=True)
        code = child.wait()
    if code != 0 or not (out / "intent_report.json").exists():
        tail = log.read_text(encoding="utf-8").splitlines()[-15:]
        print(f"cross-validation FAILED (exit code {code}); the end of its output:", *tail, sep="\n    ")
        return False
    print(f"  cross-validation done in {(time.monotonic() - started) / 60:.1f} min", flush=True)
    return True


def stale_note(cv_dir: Path) -> str:
    """Why an earlier cross-validation is shown, and whether the data changed since."""
    report = cv_dir / "intent_report.json"
    when = dt.datetime.fromtimestamp(report.stat().st_mtime)
    changed = any(p.stat().st_mtime > report.stat().st_mtime for p in nlu_files(TRAINING))
    note = f"Not rerun (--no-cv): these figures are from the cross-validation of {when:%Y-%m-%d %H:%M}"
    return note + (", and data/nlu has changed since." if changed else "; data/nlu has not changed since.")


def main() -> int:
    """Run the parts, write the report, print what needs attention."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=3, help="cross-validation folds (default 3)")
    parser.add_argument("--no-cv", action="store_true", help="only the quick part")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder")
    parser.add_argument("--verbose", action="store_true", help="show Rasa's own output while it trains")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    cv_dir = out / "cross_validation"
    failed = False

    print(f"NLU data-quality report -> {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    started = time.monotonic()
    training = quality.load_examples(nlu_files(TRAINING))
    held_out = quality.load_examples(nlu_files(HELD_OUT))
    print(f"checking {len(training)} training and {len(held_out)} held-out examples ...", flush=True)
    try:
        encoder = SentenceEncoder(ENCODER)
    except EncoderMissing as err:
        print(f"nlu report: {err}")
        return 1
    findings = quality.check(training, held_out, encoder.encode)
    print(f"  done in {time.monotonic() - started:.0f} s", flush=True)

    cv_note = ""
    if not args.no_cv:
        failed = not run_cross_validation(args.folds, cv_dir, out / "cross_validation.log", args.verbose)
    elif (cv_dir / "intent_report.json").exists():
        cv_note = stale_note(cv_dir)
    cv = quality.read_cross_validation(cv_dir) if (cv_dir / "intent_report.json").exists() else None
    for name in PLOTS:
        target = out / name
        target.unlink(missing_ok=True)
        if cv is not None and (cv_dir / name).exists():
            shutil.copy2(cv_dir / name, target)

    command = "make nlu-report" + (" NLU_REPORT_ARGS=--no-cv" if args.no_cv else "")
    report = out / "report.md"
    report.write_text(render(findings, cv, cv_note, command, args.folds), encoding="utf-8")

    print("\nSummary")
    if cv is not None:
        scores = f"macro F1 {cv.macro_f1:.3f}, accuracy {cv.accuracy:.3f}"
        print(f"  cross-validated {scores} ({len(cv.intents)} intents)")
        if cv_note:
            print(f"  ({cv_note})")
    else:
        print("  no cross-validation figures (run without --no-cv for them)")
    needs = attention(findings, cv)
    if needs:
        print("  needs attention:")
        for line in needs:
            print(f"    ! {line}")
    else:
        print(f"  nothing needs attention (no intent below F1 {ATTENTION_F1}, nothing duplicated or leaked)")
    print(f"  report: {report.relative_to(ROOT) if report.is_relative_to(ROOT) else report}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
