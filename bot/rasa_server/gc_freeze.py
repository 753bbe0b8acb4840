"""A loaded model's objects moved out of the garbage collector's way.

The Rasa server holds about a million Python objects once a model is loaded (TensorFlow, spaCy,
the graph's components), nearly all of them for the process's whole life. CPython's full
collection walks every one of them: at 20 conversations the server stopped for 0.5-0.7 s at a time,
every few seconds, all threads with it (measured with `gc.callbacks`; bench/PROFILE.md). Those pauses
were the tail of the latency and a good part of the throughput lost.

`gc.freeze()` after a model is loaded puts every object alive at that moment in a permanent
generation that collections skip; what turns over per message (trackers, events, requests) is
still collected as before. A model loaded in place (Rasa's model server) first unfreezes, so the
previous model's objects can be freed once nothing uses them, then freezes again.

A model loaded beside the serving one (`PUT /model`, bot/rasa_server/model_swap.py) is different:
the old model still serves while the new one loads in a worker thread. Unfreezing then would make
every collection during the load walk both models, the event loop stopped with it; so the collector
is off for the load (`loading_beside`), the new model's objects are frozen as they are, and the old
model's are collected once its last turns are over (`refreeze`): one collection per swap.
`install()` is called by `python -m bot.rasa_server`.
"""

from __future__ import annotations

import functools
import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)


def refreeze() -> float:
    """Unfreeze, collect what nothing uses any more, freeze what is alive; the seconds it took."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return time.perf_counter() - started


def freeze_after(load: Any) -> Any:
    """`load` wrapped: unfreeze before it, collect and freeze what is alive after it."""

    @functools.wraps(load)  # `__wrapped__`: Rasa's own load, for a load beside the serving model
    def load_then_freeze(*args: Any, **kwargs: Any) -> Any:
        gc.unfreeze()
        result = load(*args, **kwargs)
        seconds = refreeze()
        logger.info(
            "model loaded: %d objects frozen out of garbage collection (%.0f ms)",
            gc.get_freeze_count(),
            seconds * 1000,
        )
        return result

    load_then_freeze.freezes_gc = True  # type: ignore[attr-defined]
    return load_then_freeze


@contextmanager
def loading_beside() -> Iterator[None]:
    """Around a load beside a frozen serving model: no collection meanwhile, the new objects frozen after.

    A load makes about a million long-lived objects; with the collector on, each full collection
    during it walks all made so far (the event loop waits for each). With it off, only memory held in
    reference cycles by the turns of those seconds waits for the next collection. A load that fails
    freezes nothing: what it made is garbage, collected as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if enabled:
            gc.enable()


def install() -> None:
    """Freeze after every `Agent.load_model` (idempotent)."""
    from rasa.core.agent import Agent

    if getattr(Agent.load_model, "freezes_gc", False):
        return
    Agent.load_model = freeze_after(Agent.load_model)
