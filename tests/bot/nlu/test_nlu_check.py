"""`bot nlu check` (scripts/nlu_check.py) on a tiny project it really trains, and its refusals (runtime A)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CONFIG = """\
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: LogisticRegressionClassifier
  - name: FallbackClassifier
    threshold: 0.3
policies: []
"""
TRAINING = {
    "greet": ["hello", "hi there", "hey", "good morning", "hello again", "hi team", "hey hey", "morning all"],
    "goodbye": ["bye", "goodbye", "see you later", "bye for now", "see ya", "goodnight", "catch you later",
                "take care bye"],
    "order_status": ["where is my order", "has my order shipped", "when will my order arrive",
                     "track my order", "order status please", "is my order on its way",
                     "order not arrived yet", "when does my order come"],
    "refund": ["i want a refund", "refund my money", "give me my money back", "when do i get my refund",
               "my refund is late", "refund please", "money back please", "how do i get a refund"],
}  # fmt: skip
# "parcel" is a word the training data above never uses: the held-out examples with it are the misses.
HELD_OUT = {
    "greet": ["hello there", "hi again", "hey team"],
    "goodbye": ["bye bye", "see you", "goodnight all"],
    "order_status": ["where is my order now", "has my order arrived", "order tracking please",
                     "my parcel is late", "wheres my parcel", "is the parcel coming"],
    "refund": ["i need a refund", "refund status please", "my money back please"],
}  # fmt: skip
# What an editor adds to fix them (other words than the held-out examples': no leak).
PARCEL_EXAMPLES = ["my parcel has not come", "parcel is late again", "where is the parcel",
                   "tracking my parcel", "the parcel never came", "is my parcel on its way"]  # fmt: skip


def write_nlu(path: Path, intents: dict[str, list[str]]) -> Path:
    """A Rasa 3 NLU file with one block per intent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    blocks = [
        f"- intent: {intent}\n  examples: |\n" + "".join(f"    - {text}\n" for text in texts)
        for intent, texts in intents.items()
    ]
    path.write_text('version: "3.1"\nnlu:\n' + "".join(blocks), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def check_script():
    """scripts/nlu_check.py as a module (it imports its neighbour nlu_quality)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT / "scripts"))
        yield importlib.import_module("nlu_check")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The tiny project: config, data, held-out set, and a baseline NLU model trained on the data."""
    from rasa.model_training import train_nlu

    root = tmp_path_factory.mktemp("tiny")
    (root / "config.yml").write_text(CONFIG, encoding="utf-8")
    write_nlu(root / "data" / "nlu.yml", TRAINING)
    write_nlu(root / "heldout" / "nlu.yml", HELD_OUT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RASA_CACHE_DIRECTORY", str(root / "rasa-cache"))
        train_nlu(
            str(root / "config.yml"), str(root / "data"), str(root / "models"), fixed_model_name="baseline"
        )
    return root


def run_check(
    check_script, project: Path, data: Path, out: Path, monkeypatch, *extra: str
) -> tuple[int, dict]:
    monkeypatch.setenv("RASA_CACHE_DIRECTORY", str(out / "rasa-cache"))
    argv = ["--baseline", str(project / "models" / "baseline.tar.gz"),
            "--config", str(project / "config.yml"), "--data", str(data),
            "--heldout", str(project / "heldout"), "--out", str(out), "--work", str(out / "work"),
            *extra]  # fmt: skip
    code = check_script.main(argv)
    report = json.loads((out / "report.json").read_text(encoding="utf-8")) if code in (0, 1) else {}
    return code, report


def intent_row(report: dict, intent: str) -> dict:
    return next(row for row in report["intents"] if row["intent"] == intent)


@pytest.mark.slow
def test_examples_that_fix_held_out_misses_are_safe_and_the_scores_are_rasa_tests(
    check_script, project, tmp_path, monkeypatch, capsys
):
    more = {**TRAINING, "order_status": [*TRAINING["order_status"], *PARCEL_EXAMPLES]}
    changed = write_nlu(tmp_path / "data" / "nlu.yml", more)
    code, report = run_check(
        check_script, project, changed.parent, tmp_path / "out", monkeypatch, "--min-f1", "0.8"
    )
    printed = capsys.readouterr().out

    parcel = [c for c in report["changed"] if "parcel" in c["text"]]
    assert parcel, "the baseline should misread a held-out example about a parcel (a word it never saw)"
    assert all(c["after"] == "order_status" and c["change"] == "fixed" for c in parcel)
    assert [c for c in report["changed"] if c["change"] != "fixed"] == []
    order = intent_row(report, "order_status")
    assert order["after"]["recall"] > order["before"]["recall"] and order["support"] == 6
    assert report["candidate"]["macro_f1"] > report["baseline"]["macro_f1"]
    assert (code, report["verdict"], report["reasons"]) == (0, "safe to ship", [])
    assert report["candidate"]["trained"] is True and Path(report["candidate"]["model"]).is_file()
    assert report["data_unchanged"] is None and report["heldout"]["examples"] == 15
    assert {"train", "load_baseline", "read_baseline", "load_candidate", "read_candidate"} <= set(
        report["timings"]
    )
    assert "SAFE TO SHIP" in printed and "training the model of" in printed
    assert (tmp_path / "out" / "report.md").read_text(encoding="utf-8").startswith("# NLU regression report")

    # The numbers are those `rasa test nlu` writes for this model and held-out set (intent_report.json).
    import asyncio

    from rasa.core.agent import Agent
    from rasa.nlu.test import run_evaluation

    rasa_out = tmp_path / "rasa-test"
    processor = Agent.load(report["candidate"]["model"]).processor
    asyncio.run(
        run_evaluation(
            str(project / "heldout"), processor, output_directory=str(rasa_out), disable_plotting=True
        )
    )
    theirs = json.loads((rasa_out / "intent_report.json").read_text(encoding="utf-8"))
    assert report["candidate"]["macro_f1"] == pytest.approx(theirs["macro avg"]["f1-score"], abs=1e-4)
    for row in report["intents"]:
        assert row["after"]["f1"] == pytest.approx(theirs[row["intent"]]["f1-score"], abs=1e-4)


@pytest.mark.slow
def test_removing_an_intents_examples_is_not_safe_and_says_why(check_script, project, tmp_path, monkeypatch):
    without = {intent: texts for intent, texts in TRAINING.items() if intent != "goodbye"}
    changed = write_nlu(tmp_path / "data" / "nlu.yml", without)
    code, report = run_check(check_script, project, changed.parent, tmp_path / "out", monkeypatch)

    goodbye = intent_row(report, "goodbye")
    assert goodbye["before"]["f1"] > 0.05 and goodbye["after"]["f1"] == 0.0
    assert (code, report["safe"]) == (1, False)
    why = [r for r in report["reasons"] if r.startswith("goodbye ")]
    broken = [c for c in report["changed"] if c["expected"] == "goodbye"]
    right_before = round(goodbye["before"]["recall"] * goodbye["support"])
    assert len(broken) == right_before and {c["change"] for c in broken} == {"broken"}
    assert len(why) == 1
    assert why[0].startswith(
        f"goodbye F1 {goodbye['before']['f1']:.2f} -> 0.00 "
        f"({right_before} of its 3 held-out examples now read "
    )
    assert all(f" {c['after']}" in why[0] for c in broken)  # where they went, by name


def test_bad_input_is_one_line_and_exit_code_2(check_script, tmp_path, capsys):
    missing = check_script.main(["--baseline", str(tmp_path / "none.tar.gz")])
    assert missing == 2
    err = capsys.readouterr().err
    none = tmp_path / "none.tar.gz"
    assert err == f"nlu check: no baseline model at {none} (run `make train`, or pass --baseline)\n"

    (tmp_path / "config.yml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "baseline.tar.gz").touch()  # never loaded: the held-out set is refused first
    argv = ["--baseline", str(tmp_path / "baseline.tar.gz"), "--config", str(tmp_path / "config.yml"),
            "--data", str(write_nlu(tmp_path / "data" / "nlu.yml", TRAINING)),
            "--heldout", str(write_nlu(tmp_path / "heldout" / "nlu.yml", {"greet": ["hello"]})),
            "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")]  # fmt: skip
    assert check_script.main(argv) == 2
    err = capsys.readouterr().err
    assert "needs examples of at least two intents" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "report.json").exists()


@pytest.mark.model
def test_unchanged_inputs_are_read_from_the_baselines_name(check_script, tmp_path):
    import train_model

    key = train_model.inputs_hash(ROOT)
    current = tmp_path / f"model-{key}.tar.gz"
    current.touch()
    served = tmp_path / "current.tar.gz"
    served.symlink_to(current.name)
    config, data = ROOT / "config.yml", ROOT / "data"
    assert check_script.inputs_unchanged(served, config, data)[0] is True
    older = tmp_path / "model-0123456789abcdef.tar.gz"
    assert check_script.inputs_unchanged(older, config, data) == (
        False, f"changed since the baseline was trained (inputs hash 0123456789abcdef -> {key})"
    )  # fmt: skip
    assert check_script.inputs_unchanged(tmp_path / "baseline.tar.gz", config, data)[0] is None
    assert check_script.inputs_unchanged(served, config, tmp_path)[0] is None
