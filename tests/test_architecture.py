"""The house keeps its shape: imports between packages go one way, and the Rasa side stays light.

Read from the source (every `import` in a module, including those inside functions, which hide a
cycle but do not break it), so a new import in the wrong direction fails here with the line that
made it, before anyone has to untangle it. The layers are drawn in README.md, "How it is built".
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("bot", "actions", "connectors")

# Units of the house: a module belongs to the longest unit its name starts with.
SERVICES = {  # processes: nothing below them may import them
    "bot.desk",
    "bot.monitoring",
    "bot.action_server",
    "bot.rasa_server",
    "actions",
    "connectors",
}
# Developer and operator tools (the demo data seeder among them): never imported at run time.
TOOLS = {"bot.devtools", "bot.simulator", "bot.cli", "bot.storage.seed"}
DOMAIN = {
    "bot.conversations",
    "bot.handoff",
    "bot.shop",
    "bot.catalog",
    "bot.sentiment",
    "bot.language",
    "bot.nlu",
    "bot.storage",
    "bot.content",
    "bot.customers",
}
SHARED = {
    "bot.settings",
    "bot.config_files",
    "bot.live_bus",
    "bot.metrics",
    "bot.bearer",
    "bot.readiness",
    "bot.x_oauth",
    "bot.retry",
    "bot.platform_env",
    "bot.timeline",
}
UNITS = SERVICES | TOOLS | DOMAIN | SHARED

# Which services may use which: the desk renders monitoring's pages, and actions (loaded by the action
# server) take that process's settings; nothing else crosses.
SERVICE_MAY_IMPORT = {"bot.desk": {"bot.monitoring"}, "actions": {"bot.action_server"}}

# What Rasa's own process loads (runtime A, Python 3.10 with Rasa's old pins): no SQLAlchemy-2 models,
# no torch, no desk. Everything these import, at any depth, must stay inside RASA_SIDE.
RASA_ENTRIES = ("connectors", "bot.nlu", "bot.rasa_server", "bot.conversations.tracker_store")
RASA_SIDE = {
    "connectors",
    "bot.nlu",
    "bot.rasa_server",
    "bot.sentiment",
    "bot.language",
    "bot.conversations",
    "bot.settings",
    "bot.config_files",
    "bot.metrics",
    "bot.bearer",
    "bot.x_oauth",
    "bot.retry",
    "bot.platform_env",
    "bot.timeline",
}
# Single modules of other units that runtime A may load: escalation's pure decision (the Rasa server
# computes the escalation slots itself, bot/rasa_server/local_actions.py); tickets stay runtime B.
RASA_SIDE_MODULES = {"bot.handoff", "bot.handoff.escalation"}
RUNTIME_B_ONLY_CONVERSATIONS = {"bot.conversations.tail", "bot.conversations.rasa_api"}


def modules() -> dict[str, Path]:
    """Every first-party module by dotted name."""
    found = {}
    for top in FIRST_PARTY:
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = modules()


def imports(name: str, path: Path) -> list[tuple[str, int]]:
    """First-party modules `name` imports, with the line of each import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from bot.desk import audit` imports the module bot.desk.audit when there is one.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for target in targets:
            if target.split(".")[0] in FIRST_PARTY:
                found.append((target, node.lineno))
    return found


def unit(name: str) -> str:
    """The unit a module belongs to (its longest matching unit name)."""
    matches = [u for u in UNITS if name == u or name.startswith(u + ".")]
    return max(matches, key=len) if matches else name


GRAPH = {name: imports(name, path) for name, path in MODULES.items()}


def test_every_module_belongs_to_a_declared_unit():
    unknown = sorted({unit(name) for name in MODULES} - UNITS - {"bot"})
    assert not unknown, f"add these to a layer in tests/test_architecture.py (and README): {unknown}"


def edges() -> list[tuple[str, str, str, int]]:
    """(importing unit, imported unit, module, line) for every import that crosses units."""
    crossing = []
    for name, targets in GRAPH.items():
        for target, line in targets:
            a, b = unit(name), unit(target)
            if a != b and b != "bot":
                crossing.append((a, b, name, line))
    return crossing


def allowed(importer: str, imported: str) -> bool:
    """The house rules, in one place."""
    if imported in TOOLS:
        return importer in TOOLS
    if imported in SERVICES:
        return importer in TOOLS or imported in SERVICE_MAY_IMPORT.get(importer, set())
    return True


def test_imports_go_one_way():
    wrong = [
        f"{module} (line {line}): {a} must not import {b}"
        for a, b, module, line in edges()
        if not allowed(a, b)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_cycles_between_units():
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b, _, _ in edges():
        graph[a].add(b)
    cycles = []
    for start in sorted(graph):
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in sorted(graph[node]):
                if nxt == start:
                    cycles.append(" → ".join([*trail, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert not cycles, "\n".join(sorted(set(cycles)))


def test_the_rasa_server_loads_only_rasa_side_code():
    todo = [name for name in MODULES if any(name == e or name.startswith(e + ".") for e in RASA_ENTRIES)]
    reached: dict[str, str] = {name: name for name in todo}
    while todo:
        name = todo.pop()
        for target, _ in GRAPH.get(name, []):
            if target in MODULES and target not in reached:
                reached[target] = name
                todo.append(target)
    outside = sorted(
        f"{name} (imported by {reached[name]})"
        for name in reached
        if (unit(name) not in RASA_SIDE and name not in RASA_SIDE_MODULES)
        or name in RUNTIME_B_ONLY_CONVERSATIONS
    )
    assert not outside, "runtime A would import:\n" + "\n".join(outside)


@pytest.mark.parametrize("rule", [("bot.monitoring", "bot.desk"), ("bot.handoff", "actions")])
def test_the_rules_catch_a_wrong_import(rule):
    """The check itself: an import against the rules is refused (so a passing test means something)."""
    assert not allowed(*rule)
