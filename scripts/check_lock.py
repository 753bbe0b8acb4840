"""Check that an installed runtime is its lock file, and that the lock file serves pyproject.toml.

`python scripts/check_lock.py requirements/service.lock service dev`, run with the runtime's own
interpreter right after `make install` installed the lock: every requirement of the project and of
the named extras must be installed at a version the requirement allows (so pyproject.toml and the lock
agree), and at the lock's version. Exits 1 with the list of what disagrees and how to fix it.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

PROJECT = "loom-support-bot"


def normalise(name: str) -> str:
    """PEP 503 names: `Foo_Bar` and `foo-bar` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: Path) -> dict[str, str]:
    """The version of each `name==version` line of a lock file, by normalised name."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[normalise(name)] = version.strip()
    return pins


def requirements(extras: list[str]) -> list[Requirement]:
    """The project's requirements that apply here with these extras (markers evaluated)."""
    found = []
    for text in metadata.requires(PROJECT) or []:
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in ["", *extras]):
            found.append(requirement)
    return found


def problems(lock: Path, extras: list[str]) -> list[str]:
    """What disagrees between the requirements, the installed versions and the lock."""
    pins = locked(lock)
    wrong = []
    for requirement in requirements(extras):
        name = normalise(requirement.name)
        if name == PROJECT:  # an extra that names another extra of ours
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{requirement} is not installed (missing from {lock})")
            continue
        if name not in pins:
            wrong.append(f"{requirement} is not in {lock}")
        elif pins[name] != installed:
            wrong.append(f"{requirement.name} {installed} installed, {pins[name]} in {lock}")
        if not requirement.specifier.contains(installed, prereleases=True):
            wrong.append(f"{requirement.name} {installed} does not satisfy {requirement}")
    return wrong


def main() -> None:
    """Check and report."""
    lock, extras = Path(sys.argv[1]), sys.argv[2:]
    wrong = problems(lock, extras)
    if wrong:
        print(f"{lock} does not match pyproject.toml ({', '.join(extras)}):", *wrong, sep="\n  ")
        print("Update the lock files with `make lock FRESH=1` (README, 'Dependencies'), then `make install`.")
        sys.exit(1)
    print(f"{lock}: {len(requirements(extras))} requirements of [{','.join(extras)}] installed as locked")


if __name__ == "__main__":
    main()
