"""Rasa's model graph run node after node in the calling thread, without dask's scheduler.

Rasa 3.6 runs every graph call (each message's understanding, each next-action prediction: two or
three a message) through `dask.get`: the call builds a dask graph, orders it, creates a queue and
hands each task to dask's synchronous scheduler. On this assistant's small graphs that book-keeping
was a fifteenth of the Rasa server's busy time at 20 conversations (bench/PROFILE.md), more than some
of the components it ran. Dask's "synchronous" scheduler runs one task at a time in the calling
thread anyway, so nothing runs in parallel that did before.

`run` here keeps `DaskGraphRunner.run`'s contract: the same minimal graph for the targets (computed
once per target list), inputs that replace nodes of the same name, each node called with its
dependencies' `(name, output)` pairs in the order of its `needs`, the targets' outputs by name, and a
node's `RuntimeError` turned into `GraphRunError`. One difference: dask runs every node of the minimal
graph, also those only a replaced node needed; `run` computes only what the targets need, once.
`install()` is called by `python -m bot.rasa_server`; tests/bot/rasa_server/test_graph_runner.py
compares both runners on parses and predictions of the real model.

Only serving changes: training keeps dask (see `install`).
"""

from __future__ import annotations

import types
from typing import Any


def run(
    runner: Any, inputs: dict[str, Any] | None = None, targets: list[str] | None = None
) -> dict[str, Any]:
    """`DaskGraphRunner.run` without dask: the targets' outputs, each node computed once, in order."""
    from rasa.engine.exceptions import GraphRunError

    run_targets = list(targets) if targets else list(runner._graph_schema.target_names)
    schema = _minimal_schema(runner, run_targets)
    results: dict[str, tuple[str, Any]] = {}
    for name, value in (inputs or {}).items():
        if isinstance(value, str) and value in schema.nodes:
            raise GraphRunError(
                f"Input value '{value}' clashes with a node name. Make sure that none of the input names "
                f"passed to the `run` method are the same as node names in the graph schema."
            )
        results[name] = (name, value)

    def output_of(name: str) -> tuple[str, Any]:
        found = results.get(name)
        if found is None:
            node = schema.nodes.get(name)
            if node is None:
                raise GraphRunError(f"Graph node or input '{name}' not found in the graph.")
            found = runner._instantiated_nodes[name](*(output_of(need) for need in node.needs.values()))
            results[name] = found
        return found

    try:
        return dict(output_of(target) for target in run_targets)
    except RuntimeError as err:
        raise GraphRunError("Error running runner.") from err


def _minimal_schema(runner: Any, targets: list[str]) -> Any:
    """The graph's part the targets depend on, kept per target list (a loaded graph never changes)."""
    cache = runner.__dict__.setdefault("_loom_minimal_schemas", {})
    key = tuple(targets)
    schema = cache.get(key)
    if schema is None:
        schema = runner._graph_schema.minimal_graph_schema(targets)
        cache[key] = schema
    return schema


def install() -> None:
    """Give every model graph loaded for serving `run` in place of dask's (idempotent).

    Only the prediction runners that `rasa.engine.loader.load_predict_graph_runner` builds change:
    training keeps dask, which runs every node of its graph (components persist themselves there),
    while `run` computes only what the targets need (inference components have no side effects).
    """
    from rasa.engine import loader

    if getattr(loader.load_predict_graph_runner, "without_dask", False):
        return
    rasa_load = loader.load_predict_graph_runner

    def load_predict_graph_runner(*args: Any, **kwargs: Any) -> Any:
        metadata, runner = rasa_load(*args, **kwargs)
        use_on(runner)
        return metadata, runner

    load_predict_graph_runner.without_dask = True  # type: ignore[attr-defined]
    loader.load_predict_graph_runner = load_predict_graph_runner


def use_on(runner: Any) -> None:
    """Make this one runner's `run` the one above (its class and every other instance keep dask's)."""
    runner.run = types.MethodType(run, runner)
