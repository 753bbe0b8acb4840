"""The NLU quality gate of `make test-nlu`, for any model file, evaluated once per file.

The gate: macro-averaged F1 over intents of `rasa test nlu` on the held-out set in tests/nlu/ (never
trained on) at least `MIN_F1`. `make test-nlu` reads the report through scripts/nlu_gate.py, which uses
`intent_rows` and `macro_f1` from here, so both gates are one. Evaluating a model takes a minute or
two of runtime A, so the outcome is kept in `$VAR_DIR/model-gate/`, named by the model file's sha256
and the held-out set's: a swap retried, the launcher and the CLI evaluate a model once, and a changed
held-out set evaluates it again. A run of `rasa test nlu` that fails is not kept (it may be the
machine's fault, not the model's).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot.settings import PROJECT_ROOT, local_var_dir

MIN_F1 = 0.93
HELD_OUT = PROJECT_ROOT / "tests" / "nlu"
RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg", "micro avg")
GATE_FOLDER = "model-gate"  # under $VAR_DIR
TIMEOUT = 1800.0  # `rasa test nlu` takes a minute or two here; far longer means it is stuck
CHUNK = 1 << 20


def intent_rows(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The per-intent rows of `rasa test nlu`'s intent_report.json (not its summary rows)."""
    return {k: v for k, v in report.items() if k not in SUMMARY_ROWS and isinstance(v, dict)}


def macro_f1(report: Mapping[str, Any]) -> float:
    """Macro-averaged F1 over intents: every intent counts the same, a weak one cannot hide."""
    return float(report["macro avg"]["f1-score"])


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def held_out_digest(folder: Path) -> str:
    """A short hash of the held-out set's files (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class GateResult:
    """One model's gate: its macro F1 (None when it could not be evaluated) and the verdict."""

    model: str
    sha256: str
    macro_f1: float | None
    min_f1: float
    seconds: float  # of the evaluation (0 when the kept result was used)
    cached: bool
    error: str = ""  # why it could not be evaluated

    @property
    def passed(self) -> bool:
        """At least `min_f1`."""
        return self.macro_f1 is not None and self.macro_f1 >= self.min_f1

    @property
    def reason(self) -> str:
        """One line for people: the score against the gate, or why there is none."""
        if self.macro_f1 is None:
            return f"the NLU evaluation failed: {self.error}"
        relation = ">=" if self.passed else "<"
        kept = ", kept result" if self.cached else f", {self.seconds:.0f} s"
        score = f"macro F1 {self.macro_f1:.3f} {relation} {self.min_f1:.2f}"
        return f"{score} on the held-out set ({self.sha256[:12]}{kept})"


def cache_dir(env: Mapping[str, str | None] | None = None) -> Path:
    """Where gate results are kept: `$VAR_DIR/model-gate/`."""
    return local_var_dir(os.environ if env is None else env) / GATE_FOLDER


def evaluate(model: Path, held_out: Path = HELD_OUT, rasa: Path = RASA) -> float:
    """`rasa test nlu` on `held_out` in runtime A; the macro F1. RuntimeError when it fails."""
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    with tempfile.TemporaryDirectory(prefix="model-gate-") as out:
        command = [str(rasa), "test", "nlu", "--model", str(model), "--nlu", str(held_out), "--out", out]
        try:  # cwd: config.yml names the sentence encoder relative to the project
            done = subprocess.run(
                command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT
            )
        except subprocess.TimeoutExpired as err:
            raise RuntimeError(f"rasa test nlu still running after {TIMEOUT:.0f} s") from err
        report = Path(out) / "intent_report.json"
        if done.returncode != 0 or not report.exists():
            last = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"rasa test nlu exited with {done.returncode}: {' | '.join(last)}")
        return macro_f1(json.loads(report.read_text()))


def gate(
    model: Path,
    min_f1: float = MIN_F1,
    held_out: Path = HELD_OUT,
    kept_in: Path | None = None,
    rasa: Path = RASA,
) -> GateResult:
    """The gate's verdict on `model`: from `kept_in` (default `cache_dir()`) when evaluated before."""
    sha = file_sha256(model)
    folder = kept_in or cache_dir()
    kept = folder / f"{sha}-{held_out_digest(held_out)}.json"
    if kept.exists():
        score = json.loads(kept.read_text())["macro_f1"]
        return GateResult(str(model), sha, score, min_f1, 0.0, cached=True)
    started = time.monotonic()
    try:
        score = evaluate(model, held_out, rasa)
    except RuntimeError as err:
        return GateResult(str(model), sha, None, min_f1, time.monotonic() - started, False, str(err))
    result = GateResult(str(model), sha, score, min_f1, time.monotonic() - started, cached=False)
    folder.mkdir(parents=True, exist_ok=True)
    partial = kept.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(result)))
    partial.replace(kept)  # whole or not at all, for a second swap reading it meanwhile
    return result
