"""Understanding alone: milliseconds per message of the NLU pipeline, component by component.

Runs in runtime A (`make bench-nlu`): loads each model as the server does (our turn changes installed,
so the graph runs without dask and DIET predicts batches), then parses every held-out message of
tests/nlu/ one at a time and in batches of 8 (what the server's micro-batches hold at 20 conversations),
after an unmeasured warm-up. Each NLU component is timed by wrapping Rasa's graph nodes. With
`--baseline MODEL` a second model (e.g. one trained before a pipeline change) is measured in the same
run, which is the only comparison this shared 2-core machine allows. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from bench.stats import percentile
from bench.turn_profile import STAGES, instrument

ROOT = Path(__file__).resolve().parent.parent
BATCH = 8
WARM_UP = 40


def held_out_texts() -> list[str]:
    """Every held-out message (annotations removed), the realistic mix of lengths."""
    from rasa.shared.nlu.training_data.entities_parser import replace_entities

    texts = []
    for path in sorted((ROOT / "tests" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            lines = block.get("examples", "").splitlines()
            texts += [replace_entities(line[2:].strip()) for line in lines if line.startswith("- ")]
    return texts


def measure(model: Path, texts: list[str]) -> dict[str, Any]:
    """Per-message milliseconds one at a time (p50/p95/p99, per component) and in batches of BATCH."""
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage

    from bot.rasa_server.batch_parse import parse_with_graph

    agent = Agent.load(str(model))
    processor = agent.processor
    for text in texts[:WARM_UP]:
        parse_with_graph(processor, [UserMessage(text)])
    STAGES.take()

    single: list[float] = []
    components: dict[str, float] = defaultdict(float)
    for text in texts:
        started = time.perf_counter()
        parse_with_graph(processor, [UserMessage(text)])
        single.append((time.perf_counter() - started) * 1000)
        for stage, seconds in STAGES.take()[0].items():
            if stage.startswith("graph run_"):
                # "graph run_bot.nlu.entities.CatalogEntityExtractor9" -> "CatalogEntityExtractor"
                name = re.sub(r"\d+$", "", stage.removeprefix("graph run_")).rsplit(".", 1)[-1]
                components[name] += seconds * 1000

    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        parse_with_graph(processor, [UserMessage(text) for text in texts[start : start + BATCH]])
    batched = (time.perf_counter() - started) * 1000 / len(texts)
    STAGES.take()
    return {
        "model": str(model),
        "messages": len(texts),
        "one_at_a_time_ms": {q: percentile(single, q) for q in (50, 95, 99)},
        "mean_ms": sum(single) / len(single),
        "batch_of_8_ms_per_message": batched,
        "components_ms": {name: total / len(texts) for name, total in sorted(components.items())},
    }


def table(results: list[dict[str, Any]]) -> str:
    """One column per model, one row per figure and per component (mean ms per message)."""
    names = [Path(r["model"]).resolve().name for r in results]
    rows = [("messages", [str(r["messages"]) for r in results])]
    for q in (50, 95, 99):
        rows.append((f"one at a time, p{q} (ms)", [f"{r['one_at_a_time_ms'][q]:.1f}" for r in results]))
    rows.append(("one at a time, mean (ms)", [f"{r['mean_ms']:.1f}" for r in results]))
    batched = [f"{r['batch_of_8_ms_per_message']:.1f}" for r in results]
    rows.append((f"batches of {BATCH}, per message (ms)", batched))
    components = sorted({c for r in results for c in r["components_ms"]})
    for component in components:
        values = [r["components_ms"].get(component) for r in results]
        rows.append((f"  {component}", ["-" if v is None else f"{v:.2f}" for v in values]))
    width = max(len(label) for label, _ in rows)
    lines = [f"{'':{width}}  " + "  ".join(f"{n[:28]:>28}" for n in names)]
    lines += [f"{label:{width}}  " + "  ".join(f"{v:>28}" for v in values) for label, values in rows]
    return "\n".join(lines)


def main() -> None:
    """Measure the model (and the baseline, if given), print the table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current.tar.gz")
    parser.add_argument("--baseline", type=Path, help="a second model to measure in the same run")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "parse_latency.json")
    args = parser.parse_args()

    from bot.rasa_server.server import install_turn_changes

    install_turn_changes()
    instrument()
    texts = held_out_texts()
    models = [args.baseline, args.model] if args.baseline else [args.model]
    results = []
    for model in models:
        print(f"parse_latency: {model} ({len(texts)} held-out messages) ...", flush=True)
        results.append(measure(model, texts))
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
