"""`make run` loads what `make train` made: models/current.tar.gz watched, a new target swapped in.

scripts/train_model.py repoints the symlink models/current.tar.gz at the model it trained (or
reused). The launcher polls the link once a second (`ModelWatcher.changed`). A new target (another
file, or the same name written anew: `--force` trains into the same name) is acted on once it held
still for one poll, so a file still being written is not taken; and only once, whatever the swap's
outcome (a refused model is not tried again every second). The swap is `bot.content.model_swap.swap`
on every Rasa replica of the stack, gate included; its report goes to the launcher's output.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

from bot.content.model_gate import GATE_FOLDER, gate
from bot.content.model_swap import SwapReport, swap
from bot.devtools.devstack import Stack

Key = tuple[str, int, int]  # the resolved target, its inode and size (`make train` touches a reused model)


def target_key(link: Path) -> Key | None:
    """What `link` points at now, and that file's identity; None while it points nowhere."""
    try:
        target = link.resolve(strict=True)
        info = os.stat(target)
    except (OSError, RuntimeError):  # missing, dangling, a loop
        return None
    return (str(target), info.st_ino, info.st_size)


class ModelWatcher:
    """Tells once when the link's target changed and then held still for one poll."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.served = target_key(link)  # what the stack started with
        self._pending: Key | None = None

    def changed(self) -> Path | None:
        """The new target, once it differs from the served one and held still since the last poll."""
        now = target_key(self.link)
        if now is None or now == self.served:
            self._pending = None
            return None
        if now != self._pending:
            self._pending = now  # new, or still changing: look again at the next poll
            return None
        self.served, self._pending = now, None
        return Path(now[0])


def follow(watcher: ModelWatcher, stack: Stack, say: Callable[[str], None]) -> SwapReport | None:
    """One poll of the launcher's loop: a new model at the link swapped into the stack (its report)."""
    model = watcher.changed()
    return None if model is None else swap_stack(stack, model, say)


def swap_stack(stack: Stack, model: Path, say: Callable[[str], None]) -> SwapReport:
    """Swap `model` into every Rasa replica of `stack`, saying what happens (gate results in its VAR_DIR)."""
    say(f"\n{stack.model.name} now points at {model.name}: NLU gate, then loading (a minute or two) ...")
    kept = functools.partial(gate, kept_in=stack.var_dir / GATE_FOLDER)
    report = swap(model, stack.rasa_urls, stack.rasa_api_headers, gate_check=kept)
    for line in report.lines():
        say(line)
    return report
