"""A loaded model's objects moved out of the garbage collector's way.

The Rasa server holds about a million Python objects once a model is loaded (TensorFlow, spaCy,
the graph's components), nearly all of them for the process's whole life. CPython's full
collection walks every one of them: at 20 conversations the server stopped for 0.5-0.7 s at a time,
every few seconds, all threads with it (measured with `gc.callbacks`; bench/PROFILE.md). Those pauses
were the tail of the latency and a good part of the throughput lost.

`gc.freeze()` after a model is loaded puts every object alive at that moment in a permanent
generation that collections skip; what turns over per message (trackers, events, requests) is
still collected as before. A newly loaded model (`PUT /model`, a model server) first unfreezes,
so the previous model's objects can be freed once nothing uses them, then freezes again.
`install()` is called by `python -m bot.rasa_server`.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

logger = logging.getLogger(__name__)


def freeze_after(load: Any) -> Any:
    """`load` wrapped: unfreeze before it, collect and freeze what is alive after it."""

    def load_then_freeze(*args: Any, **kwargs: Any) -> Any:
        gc.unfreeze()
        result = load(*args, **kwargs)
        started = time.perf_counter()
        gc.collect()
        gc.freeze()
        logger.info(
            "model loaded: %d objects frozen out of garbage collection (%.0f ms)",
            gc.get_freeze_count(),
            (time.perf_counter() - started) * 1000,
        )
        return result

    load_then_freeze.freezes_gc = True  # type: ignore[attr-defined]
    return load_then_freeze


def install() -> None:
    """Freeze after every `Agent.load_model` (idempotent)."""
    from rasa.core.agent import Agent

    if getattr(Agent.load_model, "freezes_gc", False):
        return
    Agent.load_model = freeze_after(Agent.load_model)
