"""Train the Rasa model only when its inputs changed, with a cache keyed by their hash.

The key covers everything that changes what `rasa train` produces: config, domain, training data,
our own NLU components and the pinned dependencies. A model trained from the same inputs is reused
from `models/` or from the cache directory (shared between clones, e.g. CI runs on one machine), so a
clean checkout does not pay for training again. Without a cached copy it trains, nothing is hidden.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: scripts/nlu_check.py reads the inputs' hash in runtime A
    import tomli as tomllib

# all-MiniLM-L6-v2 exported to ONNX (scripts/export_encoder.py), where config.yml reads it
ENCODER = "models/encoder"
# bot/sentiment: `rasa train` fits the learned sentiment model with that code (bot/sentiment/training.py)
INPUTS = ["config.yml", "domain.yml", "data", "bot/nlu", "bot/sentiment", ENCODER]
KEEP_CACHED = 10  # models kept in the shared cache (about 30 MB each)
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "loom-support-bot" / "models"


def input_files(root: Path) -> list[Path]:
    """All files that feed training, in a stable order."""
    files: list[Path] = []
    for name in INPUTS:
        path = root / name
        if path.is_dir():
            files += [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        elif path.is_file():
            files.append(path)
        else:
            sys.exit(f"train: missing training input {path}")
    return sorted(files)


def runtime_pins(root: Path) -> bytes:
    """The pinned Rasa-side dependencies (a new Rasa or spaCy may train a different model)."""
    with (root / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    return "\n".join(project["optional-dependencies"]["rasa"]).encode()


def inputs_hash(root: Path) -> str:
    """A short hash of the training inputs' paths and contents."""
    digest = hashlib.sha256(runtime_pins(root))
    for path in input_files(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def prune(folder: Path, keep: int) -> None:
    """Delete all but the `keep` most recently used models in `folder`."""
    models = sorted(folder.glob("model-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in models[keep:]:
        old.unlink(missing_ok=True)


def link_current(models: Path, model: Path) -> bool:
    """Point models/current.tar.gz at the model every command should use; whether it pointed elsewhere.

    A new link renamed over the old one: a running `make run`, which watches the link and loads the
    model it points at (bot/devtools/model_watch.py), never finds it missing.
    """
    current = models / "current.tar.gz"
    before = os.readlink(current) if current.is_symlink() else None
    staged = models / f".current-{os.getpid()}.tar.gz"
    staged.unlink(missing_ok=True)
    staged.symlink_to(model.name)
    os.replace(staged, current)
    return before != model.name


def running_make_run() -> str | None:
    """`make run (pid N)` when one runs on this checkout's VAR_DIR (it loads the new model), else None."""
    from bot.devtools.launcher import running
    from bot.settings import local_var_dir

    busy = running(local_var_dir(os.environ))
    if busy is None:
        return None
    holder = getattr(busy, "holder", None)
    return f"make run (pid {holder.pid})" if holder is not None else "make run"


def model_path(root: Path, key: str) -> Path:
    """Where the model trained from inputs hashing to `key` lives: models/model-<key>.tar.gz."""
    return root / "models" / f"model-{key}.tar.gz"


def reuse(root: Path, key: str, cache: Path) -> Path | None:
    """The model for these inputs when one was trained already (here, or in the shared cache)."""
    model, cached = model_path(root, key), cache / f"model-{key}.tar.gz"
    if model.exists():
        print(f"train: model is up to date ({model.relative_to(root)})")
        return model
    if cached.exists():
        model.parent.mkdir(exist_ok=True)
        shutil.copy2(cached, model)
        print(f"train: inputs unchanged, reused cached model {cached}")
        return model
    return None


def train_command(rasa: str, root: Path, key: str) -> list[str]:
    """`rasa train` into models/ under the name of its inputs (run it from the project root)."""
    model = model_path(root, key)
    name = model.name.removesuffix(".tar.gz")
    return [rasa, "train", "--out", str(model.parent), "--fixed-model-name", name]


def keep(model: Path, cache: Path) -> None:
    """Copy a newly trained model into the shared cache, so other clones and CI runs reuse it."""
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copy2(model, cache / model.name)


def main() -> None:
    """Parse arguments, reuse or train the model, print its path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa", required=True, help="path of the rasa executable (runtime A)")
    parser.add_argument("--force", action="store_true", help="train even if a model for these inputs exists")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("MODEL_CACHE", DEFAULT_CACHE)))
    args = parser.parse_args()

    root = Path.cwd()
    models = root / "models"
    models.mkdir(exist_ok=True)
    # The sentence encoder the NLU pipeline reads, exported from runtime B (this interpreter) first.
    export = [sys.executable, str(root / "scripts" / "export_encoder.py"), str(root / ENCODER)]
    subprocess.run(export, check=True)
    key = inputs_hash(root)
    model = None if args.force else reuse(root, key, args.cache)
    if model is None:
        print("train: training inputs changed, training a new model (takes a few minutes) ...", flush=True)
        started = time.monotonic()
        subprocess.run(train_command(args.rasa, root, key), check=True)
        model = model_path(root, key)
        print(f"train: trained in {time.monotonic() - started:.0f} s -> {model.relative_to(root)}")
        keep(model, args.cache)
    model.touch()  # most recently used, so pruning keeps it
    if link_current(models, model) and (run := running_make_run()):
        print(f"train: the running {run} will load it", flush=True)
    prune(models, keep=3)
    if args.cache.is_dir():
        prune(args.cache, keep=KEEP_CACHED)


if __name__ == "__main__":
    main()
