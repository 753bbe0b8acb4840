"""bot/devtools/model_watch.py: the link `make train` repoints, seen once it holds still, and only once.

The swap it starts runs against real Rasa servers in tests/e2e/test_model_swap.py.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from bot.devtools.devstack import ROOT
from bot.devtools.launcher import hold_run_lock
from bot.devtools.model_watch import ModelWatcher


def repoint(link: Path, target: Path) -> None:
    """As scripts/train_model.py does: a new link renamed over the old one."""
    staged = link.with_name(".staged")
    staged.symlink_to(target.name)
    staged.replace(link)


def models(tmp_path: Path) -> tuple[Path, Path, Path]:
    old, new = tmp_path / "model-old.tar.gz", tmp_path / "model-new.tar.gz"
    old.write_bytes(b"old model")
    new.write_bytes(b"new model, longer")
    link = tmp_path / "current.tar.gz"
    link.symlink_to(old.name)
    return link, old, new


def test_a_repointed_link_is_told_once_it_held_still_for_a_poll(tmp_path):
    link, _, new = models(tmp_path)
    watcher = ModelWatcher(link)
    assert watcher.changed() is None  # nothing changed
    repoint(link, new)
    assert watcher.changed() is None  # seen; told at the next poll if it stays
    assert watcher.changed() == new.resolve()
    assert watcher.changed() is None and watcher.changed() is None  # once only


def test_a_target_still_changing_waits(tmp_path):
    link, _, new = models(tmp_path)
    watcher = ModelWatcher(link)
    repoint(link, new)
    assert watcher.changed() is None
    new.write_bytes(b"new model, still being written, longer now")
    assert watcher.changed() is None  # it changed since the last poll
    assert watcher.changed() == new.resolve()


def test_the_same_name_written_anew_counts_and_a_missing_link_does_not(tmp_path):
    link, old, _ = models(tmp_path)
    watcher = ModelWatcher(link)
    link.unlink()
    assert watcher.changed() is None and watcher.changed() is None  # pointing nowhere: nothing to load
    link.symlink_to(old.name)
    assert watcher.changed() is None  # back to what is served
    written = tmp_path / "written"
    written.write_bytes(b"retrained with --force into the same name")
    written.replace(old)  # a new file under the old name
    assert watcher.changed() is None
    assert watcher.changed() == old.resolve()


def train_model() -> object:
    """scripts/train_model.py as a module."""
    spec = importlib.util.spec_from_file_location("train_model", ROOT / "scripts" / "train_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_model_repoints_the_link_atomically_and_says_whether_it_moved(tmp_path):
    script: Any = train_model()
    link, old, new = models(tmp_path)
    watcher = ModelWatcher(link)

    assert script.link_current(tmp_path, new) is True
    assert link.resolve() == new.resolve() and watcher.changed() is None
    assert watcher.changed() == new.resolve()
    assert script.link_current(tmp_path, new) is False  # up to date: the same target
    assert watcher.changed() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([link.name, old.name, new.name])


def test_train_model_names_the_running_make_run(tmp_path, monkeypatch):
    script: Any = train_model()
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    assert script.running_make_run() is None
    lock = hold_run_lock(tmp_path)  # as the launcher holds it for as long as it runs
    try:
        assert script.running_make_run() == f"make run (pid {os.getpid()})"
    finally:
        lock.close()
    assert script.running_make_run() is None
