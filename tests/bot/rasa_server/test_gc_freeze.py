"""A loaded model's objects are frozen out of garbage collection; a newer model's load unfreezes first."""

from __future__ import annotations

import gc

import pytest
from rasa.core.agent import Agent

from bot.rasa_server import gc_freeze

RASA_LOAD_MODEL = Agent.load_model


@pytest.fixture(autouse=True)
def unfrozen(monkeypatch):
    monkeypatch.setattr(Agent, "load_model", RASA_LOAD_MODEL)
    gc.unfreeze()
    yield
    gc.unfreeze()


class Model:
    """Stands for a model's objects: many, and alive as long as the agent keeps them."""

    def __init__(self) -> None:
        self.parts = [{"weights": [i]} for i in range(20_000)]


def frozen(obj: object) -> bool:
    """Tracked by the collector but in none of its generations: in the permanent one (`gc.freeze`).

    Asked of the object itself: the frozen count also drops whenever another thread frees a frozen
    object (a finished executor's worker thread exiting, say), so comparing counts races with them.
    """
    return gc.is_tracked(obj) and all(found is not obj for found in gc.get_objects())


def test_what_a_load_keeps_alive_is_frozen_and_the_next_load_unfreezes_first():
    seen_before_load: list[int] = []
    agent: dict[str, Model] = {}

    def load(name: str) -> str:
        seen_before_load.append(gc.get_freeze_count())
        agent["model"] = Model()
        return name

    load_then_freeze = gc_freeze.freeze_after(load)
    assert load_then_freeze("first") == "first"
    assert gc.get_freeze_count() > 40_000  # the model's dicts and lists, beside what the process held
    part = agent["model"].parts[0]
    assert frozen(part) and frozen(agent["model"].parts[-1])

    garbage = [[] for _ in range(1000)]  # made after the freeze: collected as usual
    del garbage
    gc.collect()
    assert frozen(part)
    later = [["made after the freeze"]]
    assert gc.is_tracked(later) and not frozen(later)  # made afterwards: collected as usual

    load_then_freeze("second")
    assert seen_before_load == [0, 0]  # the first model's objects were unfrozen before the second load
    assert gc.get_freeze_count() > 40_000 and frozen(agent["model"].parts[0])


def test_install_wraps_rasas_load_once():
    gc_freeze.install()
    gc_freeze.install()  # idempotent
    assert Agent.load_model is not RASA_LOAD_MODEL
    assert getattr(Agent.load_model, "freezes_gc", False)
