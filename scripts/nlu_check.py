"""The regression report of a change to the NLU data (issue 17): safe to ship, or why not.

Runs in runtime A (`bot nlu check`, `make nlu-check`). Trains a candidate on the changed data: for the
project's own data/ and config.yml the whole model `make train` would make (same name, same shared
cache, so a change judged safe is loaded without training it again), for other data an NLU model in
the work folder (`rasa train nlu`). Then reads every held-out example (tests/nlu/, never trained on)
with the model now served and with the candidate in this one process, and compares them per intent
(bot/content/nlu_report.py: scores, changed examples, verdict, report.json and report.md).

When config.yml and data/ are the project's own and the baseline is `make train`'s model, named by the
hash of its training inputs (scripts/train_model.py), an unchanged hash means nothing changed since the
baseline was trained: the baseline is its own candidate (no training) unless --force is given.

`nlu_fallback` is undone before scoring, as `rasa test nlu` (and so the gate of `make test-nlu`) does:
the intent under the fallback is scored; --fallback-is-wrong scores it as a wrong answer instead.

Exit code: 0 safe to ship, 1 not safe (the reasons are printed), 2 the check could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import re
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from nlu_quality import output_lines

from bot.content import nlu_report
from bot.settings import local_var_dir

ROOT = Path(__file__).resolve().parents[1]
# `make train` names its models by the hash of their inputs (scripts/train_model.py).
TRAINED_NAME = re.compile(r"model-([0-9a-f]{16})\.tar\.gz")
CANDIDATE = "candidate"
# What Rasa logs while it trains (rasa/engine/training/hooks.py), and DIET's progress bar.
COMPONENT_START = re.compile(r"Starting to train component '([^']+)'")
COMPONENT_DONE = re.compile(r"(?:Finished training|Restored) component '([^']+)'(?: from cache)?")
EPOCHS = re.compile(r"^Epochs:\s+(\d+)%")
LONG_COMPONENT = 2.0  # seconds: components trained faster are not worth a line of progress
QUIET = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}


class CheckError(Exception):
    """The check cannot run; the message says why and what to do (exit code 2, no traceback)."""


def say(line: str) -> None:
    """A progress line, shown at once (the desk tails the output)."""
    print(line, flush=True)


@contextmanager
def phase(name: str, what: str, timings: dict[str, float]) -> Iterator[None]:
    """Say what a long step does, then how long it took; recorded in the report's timings."""
    say(f"{what} ...")
    started = time.monotonic()
    yield
    timings[name] = time.monotonic() - started
    say(f"  {what}: done in {timings[name]:.1f} s")


def shown(path: Path) -> str:
    """A path as the user thinks of it: relative to the project when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def validate(args: argparse.Namespace) -> None:
    """Refuse bad input before loading Rasa, with what to do about it."""
    if not args.baseline.is_file():
        raise CheckError(f"no baseline model at {args.baseline} (run `make train`, or pass --baseline)")
    if not args.config.is_file():
        raise CheckError(f"no config file at {args.config}")
    if not args.data.exists():
        raise CheckError(f"no training data at {args.data}")
    if not args.heldout.exists():
        raise CheckError(f"no held-out set at {args.heldout}")
    if not 0 <= args.min_f1 <= 1:
        raise CheckError(f"--min-f1 must be between 0 and 1, not {args.min_f1}")
    try:
        config = yaml.safe_load(args.config.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise CheckError(f"{args.config} is not valid YAML: {err}") from err
    for component in config.get("pipeline") or []:
        encoder = component.get("encoder") if isinstance(component, dict) else None
        if encoder and not (ROOT / encoder).exists():
            raise CheckError(
                f"{component['name']} needs {encoder}, which `make train` exports: run `make train`"
            )


def inputs_unchanged(baseline: Path, config: Path, data: Path) -> tuple[bool | None, str]:
    """Whether the training inputs are those the baseline was trained from, and how that is known."""
    if config != ROOT / "config.yml" or data != ROOT / "data":
        where = f"{shown(data)} with {shown(config)}"
        return None, f"{where}: not compared with the baseline's (only data/ with config.yml is)"
    name = TRAINED_NAME.fullmatch(baseline.resolve().name)
    if not name:
        return None, f"not compared: {shown(baseline)} is not a `make train` model named by its inputs' hash"
    import train_model  # runtime B's script; the inputs' hash is defined there, once

    try:
        key = train_model.inputs_hash(ROOT)
    except SystemExit as missing:  # it stops at a missing input, with the input's name
        return None, f"not compared: {missing}"
    if key == name.group(1):
        return True, f"unchanged since the baseline was trained (data, config and NLU code hash to {key})"
    return False, f"changed since the baseline was trained (inputs hash {name.group(1)} -> {key})"


def candidate(args: argparse.Namespace) -> tuple[Path, bool]:
    """The model to compare with the baseline, trained unless it exists already; (path, trained now).

    The project's own data and config: the whole model `make train` would make from them, under its
    name and into the shared cache, so a change judged safe is loaded without training again (the
    desk's "train and load", `make train`). Any other data: an NLU model in the work folder.
    """
    rasa = str(Path(sys.executable).with_name("rasa"))
    if args.config == ROOT / "config.yml" and args.data == ROOT / "data":
        import train_model

        key = train_model.inputs_hash(ROOT)
        cache = Path(os.environ.get("MODEL_CACHE", train_model.DEFAULT_CACHE))
        if not args.force and (model := train_model.reuse(ROOT, key, cache)) is not None:
            return model, False
        model = train_model.model_path(ROOT, key)
        train(train_command(rasa, key), model, args.work, args.verbose)
        train_model.keep(model, cache)
        return model, True
    model = args.work / f"{CANDIDATE}.tar.gz"
    command = [rasa, "train", "nlu", "--config", str(args.config), "--nlu", str(args.data),
               "--out", str(args.work), "--fixed-model-name", CANDIDATE]  # fmt: skip
    train(command, model, args.work, args.verbose)
    return model, True


def train_command(rasa: str, key: str) -> list[str]:
    """`make train`'s training command (scripts/train_model.py)."""
    import train_model

    return train_model.train_command(rasa, ROOT, key)


def train(command: list[str], model: Path, work: Path, verbose: bool) -> None:
    """Run a `rasa train` command that writes `model`, with progress; its output in the work folder."""
    work.mkdir(parents=True, exist_ok=True)
    log = work / "train.log"
    model.unlink(missing_ok=True)  # a failed training must not leave the last run's candidate behind
    say(f"  Rasa's output goes to {shown(log)}")
    # Rasa logs to its stdout, a pipe here: unbuffered, so progress comes as it trains; at INFO, where it
    # says which component it trains and shows DIET's epochs (this process set LOG_LEVEL to WARNING).
    quiet = {k: v for k, v in QUIET.items() if k not in os.environ}
    env = {**os.environ, **quiet, "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "INFO"}
    started: dict[str, float] = {}
    quarter = 0
    with log.open("w", encoding="utf-8", buffering=1) as sink:
        # cwd: config.yml names the encoder and the sentiment data relative to the project.
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            for line in output_lines(child.stdout):
                sink.write(line + "\n")
                if verbose:
                    say(f"    | {line}")
                if begun := COMPONENT_START.search(line):
                    started[begun.group(1)], quarter = time.monotonic(), 0
                elif done := COMPONENT_DONE.search(line):
                    took = time.monotonic() - started.pop(done.group(1), time.monotonic())
                    if "Restored" in line:
                        say(f"    {done.group(1)}: restored from Rasa's cache")
                    elif took >= LONG_COMPONENT:
                        say(f"    {done.group(1)} trained in {took:.0f} s")
                elif (epochs := EPOCHS.match(line)) and int(epochs.group(1)) // 25 > quarter:
                    quarter = int(epochs.group(1)) // 25
                    if quarter < 4:
                        say(f"    DIETClassifier: {quarter * 25}% of its epochs")
            code = child.wait()
        finally:  # interrupted: the training must not run on without us
            if child.poll() is None:
                child.kill()
                child.wait()
    if code != 0 or not model.is_file():
        tail = "\n    ".join(log.read_text(encoding="utf-8").splitlines()[-12:])
        raise CheckError(f"training failed (exit code {code}); the end of {shown(log)}:\n    {tail}")


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) of every example in an NLU file or folder, read as `rasa test nlu` reads them."""
    from rasa.shared.exceptions import RasaException
    from rasa.shared.importers.importer import TrainingDataImporter

    try:
        data = TrainingDataImporter.load_from_dict(training_data_paths=[str(path)]).get_nlu_data()
    except (RasaException, ValueError, OSError) as err:
        raise CheckError(f"cannot read the NLU examples in {path}: {err}") from err
    return [(m.get("text"), m.get("intent")) for m in data.nlu_examples if m.get("intent")]


def load_model(path: Path) -> Any:
    """A trained model as Rasa serves it (an Agent)."""
    from rasa.core.agent import Agent
    from rasa.shared.exceptions import RasaException

    try:
        return Agent.load(str(path))
    except (RasaException, OSError, ValueError) as err:
        raise CheckError(f"cannot load the model {path}: {err}") from err


def read(agent: Any, examples: list[tuple[str, str]], fallback_is_wrong: bool) -> list[nlu_report.Reading]:
    """Every example through the model's NLU pipeline, scored as `rasa test nlu` scores it."""
    from rasa.nlu.classifiers import fallback_classifier

    async def run() -> list[nlu_report.Reading]:
        readings = []
        for text, expected in examples:
            result = await agent.parse_message(text)
            fell_back = fallback_classifier.is_fallback_classifier_prediction(result)
            if fell_back and not fallback_is_wrong:
                result = fallback_classifier.undo_fallback_prediction(result)  # what rasa/nlu/test.py does
            intent = result.get("intent") or {}
            predicted, confidence = intent.get("name") or "", intent.get("confidence")
            readings.append(nlu_report.Reading(text, expected, predicted, confidence, fell_back))
        return readings

    return asyncio.run(run())


def evaluate(
    label: str,
    model: Path,
    examples: list[tuple[str, str]],
    args: argparse.Namespace,
    timings: dict[str, float],
) -> list[nlu_report.Reading]:
    """Load one model and read the held-out set with it, timing both."""
    with phase(f"load_{label}", f"loading the {label} model ({shown(model)})", timings):
        agent = load_model(model)
    with phase(
        f"read_{label}", f"reading the {len(examples)} held-out examples with the {label} model", timings
    ):
        return read(agent, examples, args.fallback_is_wrong)


def write(report: dict, out: Path) -> tuple[Path, Path]:
    """report.json and report.md in the output folder."""
    out.mkdir(parents=True, exist_ok=True)
    as_json, as_md = out / "report.json", out / "report.md"
    as_json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    as_md.write_text(nlu_report.markdown(report), encoding="utf-8")
    return as_json, as_md


def check(args: argparse.Namespace) -> int:
    """The whole check; 0 when the change is safe to ship, 1 when it is not."""
    started = time.monotonic()
    timings: dict[str, float] = {}
    unchanged, data_note = inputs_unchanged(args.baseline, args.config, args.data)
    say(f"NLU regression check: {shown(args.data)} against {shown(args.baseline)}")
    say(f"  data: {data_note}")
    with phase("start_rasa", "loading Rasa and the examples", timings):
        quiet_rasa(args.verbose)
        examples = load_examples(args.heldout)
        trained_intents = {intent for _, intent in load_examples(args.data)}
    if len({intent for _, intent in examples}) < 2:
        raise CheckError(
            f"{args.heldout} needs examples of at least two intents (it has {len(examples)} examples)"
        )
    if not trained_intents:
        raise CheckError(f"no NLU training examples in {args.data}")

    if unchanged and not args.force:
        say("  not training: the baseline is the model these inputs make (--force trains anyway)")
        model, trained = args.baseline, False
    else:
        what = f"training the model of {shown(args.data)} (minutes with the real pipeline)"
        with phase("train", what, timings):
            model, trained = candidate(args)

    before = evaluate("baseline", args.baseline, examples, args, timings)
    same = model.resolve() == args.baseline.resolve()
    after = before if same else evaluate("candidate", model, examples, args, timings)
    timings["total"] = time.monotonic() - started
    report = nlu_report.build(
        before, after, nlu_report.Limits(min_f1=args.min_f1),
        baseline_model=shown(args.baseline.resolve()), candidate_model=shown(model), trained=trained,
        data_note=data_note, data_unchanged=unchanged, heldout=shown(args.heldout),
        fallback_counted=args.fallback_is_wrong,
        unmeasured_intents=sorted(trained_intents - {intent for _, intent in examples}),
        timings=timings, created=dt.datetime.now().isoformat(timespec="seconds"),
    )  # fmt: skip
    as_json, as_md = write(report, args.out)
    say("")
    say(nlu_report.table(report))
    say(f"\nreport: {shown(as_md)} and {shown(as_json)}; candidate model: {shown(model)}")
    return 0 if report["safe"] else 1


def path(text: str) -> Path:
    """An argument's path made absolute (the check runs from the project root), symlinks kept by name."""
    return Path(os.path.abspath(text))


def parser() -> argparse.ArgumentParser:
    """The command line (`bot nlu check` passes its options through)."""
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument(
        "--baseline", type=path, default=ROOT / "models/current.tar.gz", help="the model now served"
    )
    cli.add_argument("--config", type=path, default=ROOT / "config.yml")
    cli.add_argument("--data", type=path, default=ROOT / "data", help="the changed training data")
    cli.add_argument(
        "--heldout", type=path, default=ROOT / "tests/nlu", help="held-out examples, never trained on"
    )
    cli.add_argument("--out", type=path, default=ROOT / "results/nlu_check", help="report.json and report.md")
    cli.add_argument(
        "--work", type=path, default=None, help="where the candidate is trained ($VAR_DIR/nlu-check)"
    )
    cli.add_argument("--min-f1", type=float, default=nlu_report.Limits.min_f1, help="the macro-F1 gate")
    cli.add_argument("--force", action="store_true", help="train even when the inputs are the baseline's")
    cli.add_argument("--fallback-is-wrong", action="store_true", help="score nlu_fallback as a wrong answer")
    cli.add_argument("--verbose", action="store_true", help="show Rasa's output while it trains")
    return cli


def quiet_rasa(verbose: bool) -> None:
    """Rasa's loggers at WARNING, as `rasa run` sets them: a debug line per parsed message would bury ours."""
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    level = logging.INFO if verbose else logging.WARNING
    configure_logging_and_warnings(level)
    configure_structlog(level)


def unshown(*_: Any, **__: Any) -> None:
    """Drop a warning (`warnings.showwarning`).

    Importing Rasa and TensorFlow raises their libraries' deprecation warnings, and the modules imported
    put filters of their own first (sanic asks for every DeprecationWarning once): no filter of ours
    stays first, so the warnings are dropped where they would be shown. None is the editor's concern.
    """


def main(argv: list[str] | None = None) -> int:
    """Run the check; errors become one line and exit code 2."""
    args = parser().parse_args(argv)
    args.work = args.work or (local_var_dir(os.environ) / "nlu-check").resolve()
    try:
        validate(args)
        with warnings.catch_warnings():  # puts showwarning and the filters back
            if not args.verbose:
                warnings.showwarning = unshown
            return check(args)
    except CheckError as err:
        print(f"nlu check: {err}", file=sys.stderr)
    except KeyboardInterrupt:
        print("nlu check: interrupted", file=sys.stderr)
    except Exception as err:  # the outermost boundary: one line here, the stack in the work folder
        args.work.mkdir(parents=True, exist_ok=True)
        (args.work / "error.log").write_text(traceback.format_exc(), encoding="utf-8")
        print(
            f"nlu check: {type(err).__name__}: {err} (stack in {shown(args.work / 'error.log')})",
            file=sys.stderr,
        )
    return 2


if __name__ == "__main__":
    sys.exit(main())
