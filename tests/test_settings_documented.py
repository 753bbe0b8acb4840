"""Every environment variable the code reads is named in `.env.example` and in README.md's Configuration.

Read from the source, as tests/test_architecture.py reads imports: a call such as `os.environ.get("X")`,
`os.getenv("X")`, `env["X"]`, `env.get("X")` or a settings helper given the environment first
(`port_setting(env, "DESK_PORT", ...)`), with the name written out or held in a module constant. A new
setting without a line in both fails here, with the file that reads it; a documented one the code no
longer names at all fails too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("bot", "connectors", "actions", "scripts", "bench", "tests")
VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")
ENVIRONMENT = re.compile(r"(^|[._])(env|environ|environment)$", re.IGNORECASE)
NOT_SETTINGS = {"PATH", "HOME"}  # passed on to child processes, never a setting of ours
MAKEFILE_ONLY = {"PYTHON310", "PYTHON311"}  # read by the Makefile (and scripts/find-python310)


def constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "string"` assignments."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def is_environment(node: ast.AST) -> bool:
    """An expression that names an environment mapping (`os.environ`, `env`, `self.env`, ...)."""
    return bool(ENVIRONMENT.search(ast.unparse(node)))


def names_read(path: Path) -> set[str]:
    """The environment variables one module reads."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    known = constants(tree)

    def text(node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        return known.get(node.id) if isinstance(node, ast.Name) else None

    found = set()
    for node in ast.walk(tree):
        keys: list[str | None] = []
        if isinstance(node, ast.Call):
            call = node.func
            method = call.attr if isinstance(call, ast.Attribute) else ""
            reader = method == "getenv" or (
                method in ("get", "setdefault", "pop") and is_environment(call.value)  # type: ignore[attr-defined]
            )
            if reader and node.args:
                keys.append(text(node.args[0]))
            if len(node.args) > 1 and is_environment(node.args[0]):
                keys.append(text(node.args[1]))
        elif isinstance(node, ast.Subscript) and is_environment(node.value):
            keys.append(text(node.slice))
        found.update(key for key in keys if key and VARIABLE.match(key))
    return found - NOT_SETTINGS


def read_by_code() -> dict[str, str]:
    """Each variable the code reads, with one file that reads it."""
    found: dict[str, str] = {}
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            for name in names_read(path):
                found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def in_env_example() -> set[str]:
    """Names of `.env.example`'s `NAME=value` lines, commented out or not."""
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    return {match.group(1) for line in lines if (match := re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line))}


def in_readme_configuration() -> set[str]:
    """Names in backquotes in README.md's "Configuration" section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([A-Z][A-Z0-9_]{2,})`", section))


def test_every_variable_the_code_reads_is_documented():
    code = read_by_code()
    example, readme = in_env_example(), in_readme_configuration()
    missing = [
        f"{name} (read in {where}):{'' if name in example else ' not in .env.example'}"
        f"{'' if name in readme else ' not in README.md Configuration'}"
        for name, where in sorted(code.items())
        if name not in example or name not in readme
    ]
    assert not missing, "document these settings:\n" + "\n".join(missing)


def string_literals() -> set[str]:
    """Every string constant in the code (a name read through a table, e.g. connectors/rate_limit.py)."""
    found = set()
    for top in SOURCES:
        for path in (ROOT / top).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            constants = (node for node in ast.walk(tree) if isinstance(node, ast.Constant))
            found.update(node.value for node in constants if isinstance(node.value, str))
    return found


def test_every_documented_variable_is_read_somewhere():
    stale = sorted(in_env_example() - set(read_by_code()) - string_literals() - MAKEFILE_ONLY)
    assert not stale, f".env.example names variables nothing reads: {stale}"


def test_the_scanner_sees_each_way_of_reading(tmp_path):
    """The check itself: each pattern it must recognise, and what it must not take for a setting."""
    source = """
import os
TOKEN_ENV = "SOME_TOKEN"
a = os.environ.get("PLAIN_GET")
b = os.getenv("GETENV_CALL")
c = env["SUBSCRIPT_READ"]
d = self.env.get(TOKEN_ENV)
e = port_setting(env, "HELPER_READ", 5)
f = settings.get("NOT_AN_ENVIRONMENT")
g = os.environ.get("PATH")
"""
    module = ROOT / "var" / "scanner_probe.py"
    module.parent.mkdir(exist_ok=True)
    module.write_text(source, encoding="utf-8")
    try:
        assert names_read(module) == {
            "PLAIN_GET",
            "GETENV_CALL",
            "SUBSCRIPT_READ",
            "SOME_TOKEN",
            "HELPER_READ",
        }
    finally:
        module.unlink()
