"""Offline dependency audit: the lock files of both runtimes against a snapshot of known advisories.

`pip-audit` asks PyPI's or OSV's vulnerability service for every package; this machine (and CI) reaches
the package index but not those services, so the check that runs in `make test` reads a committed
snapshot of OSV records instead (`security/advisories.json`, built by `scripts/refresh_advisories.py`
wherever the advisory data can be reached). Every advisory that covers a locked version must either be
fixed by upgrading the lock or be listed, with the reason it cannot reach our code or cannot be fixed,
in `security/audit-allow.yml`; anything else fails the audit.

    python scripts/audit_deps.py                    # both lock files, exit 1 on an unallowed match
    python scripts/audit_deps.py --lock rasa=requirements/rasa.lock --verbose

Matching follows the OSV schema for the PyPI ecosystem: an `affected` entry applies when its package name
matches (PEP 503 normalised: `Pillow` is `pillow`) and the version is listed in `versions` or falls in an
`ECOSYSTEM` range (events `introduced`, `fixed`, `last_affected`, `limit`, compared as PEP 440 versions).
A local version label (`2.13.0+cpu`) is compared by its public version (`2.13.0`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOCKS = {
    "rasa": ROOT / "requirements" / "rasa.lock",
    "service": ROOT / "requirements" / "service.lock",
}
DEFAULT_SNAPSHOT = ROOT / "security" / "advisories.json"
DEFAULT_ALLOWLIST = ROOT / "security" / "audit-allow.yml"
SNAPSHOT_MAX_AGE_DAYS = 120

_LOCK_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*===?\s*([^\s;#]+)")


def normalize(name: str) -> str:
    """PEP 503 normalised name: `Pillow`, `PyYAML`, `ruamel.yaml` -> `pillow`, `pyyaml`, `ruamel-yaml`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_version(text: str) -> Version | None:
    """A PEP 440 version without its local label (`2.13.0+cpu` -> `2.13.0`), or None when unparsable."""
    try:
        version = Version(str(text))
    except InvalidVersion:
        return None
    return Version(version.public)


def read_lock(path: Path) -> dict[str, str]:
    """`name==version` lines of a lock file (comments and blank lines skipped), keyed by normalised name."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue
        match = _LOCK_LINE.match(line)
        if not match:
            raise ValueError(f"{path}: not an exact pin: {line!r}")
        pins[normalize(match.group(1))] = match.group(2)
    return pins


def _in_range(version: Version, events: Sequence[Mapping[str, str]]) -> bool:
    """OSV ECOSYSTEM range evaluation: walk the events in version order, toggling 'affected'."""
    keyed: list[tuple[Version, int, str]] = []
    # At equal versions, `introduced` applies before `fixed`/`limit` and `last_affected` closes after.
    order = {"introduced": 0, "fixed": 1, "limit": 1, "last_affected": 2}
    for event in events:
        for kind, raw in event.items():
            if kind not in order:
                continue
            if kind == "introduced" and str(raw) == "0":
                point = Version("0")
            else:
                point = parse_version(raw)
                if point is None:
                    continue
            keyed.append((point, order[kind], kind))
    affected = False
    for point, _, kind in sorted(keyed):
        if kind == "introduced":
            if version >= point:
                affected = True
        elif kind in ("fixed", "limit"):
            if version >= point:
                affected = False
        elif kind == "last_affected" and version > point:
            affected = False
    return affected


def affected_entry_matches(entry: Mapping, package: str, version_text: str) -> bool:
    """Whether one OSV `affected` entry covers `package==version_text`."""
    pkg = entry.get("package") or {}
    if pkg.get("ecosystem", "PyPI") != "PyPI" or normalize(pkg.get("name", "")) != normalize(package):
        return False
    version = parse_version(version_text)
    listed = entry.get("versions") or []
    if version is not None and any(parse_version(v) == version for v in listed):
        return True
    if str(version_text) in {str(v) for v in listed}:
        return True
    if version is None:
        return False
    return any(
        _in_range(version, rng.get("events") or [])
        for rng in entry.get("ranges") or []
        if rng.get("type") == "ECOSYSTEM"
    )


def advisory_matches(advisory: Mapping, package: str, version: str) -> bool:
    """Whether an OSV record (any of its `affected` entries) covers `package==version`."""
    if advisory.get("withdrawn"):
        return False
    return any(affected_entry_matches(entry, package, version) for entry in advisory.get("affected") or [])


def fixed_versions(advisory: Mapping, package: str) -> list[str]:
    """Every `fixed` version an advisory records for a package, for the report."""
    fixed: list[str] = []
    for entry in advisory.get("affected") or []:
        if normalize((entry.get("package") or {}).get("name", "")) != normalize(package):
            continue
        for rng in entry.get("ranges") or []:
            if rng.get("type") != "ECOSYSTEM":
                continue
            fixed += [str(e["fixed"]) for e in rng.get("events") or [] if "fixed" in e]
    return sorted(set(fixed), key=lambda v: parse_version(v) or Version("0"))


@dataclass(frozen=True)
class Match:
    """One advisory covering one locked package in one runtime."""

    runtime: str
    package: str
    version: str
    advisory_id: str
    aliases: tuple[str, ...]
    summary: str
    fixed: tuple[str, ...]

    @property
    def ids(self) -> set[str]:
        """The advisory's id and aliases (an allowlist entry may name any of them)."""
        return {self.advisory_id, *self.aliases}


def find_matches(locks: Mapping[str, Mapping[str, str]], advisories: Iterable[Mapping]) -> list[Match]:
    """Every (runtime, package, advisory) where the locked version is affected."""
    by_package: dict[str, list[Mapping]] = {}
    for advisory in advisories:
        names = {normalize((e.get("package") or {}).get("name", "")) for e in advisory.get("affected") or []}
        for name in names:
            by_package.setdefault(name, []).append(advisory)
    matches: list[Match] = []
    for runtime, pins in locks.items():
        for package, version in sorted(pins.items()):
            for advisory in by_package.get(package, []):
                if advisory_matches(advisory, package, version):
                    matches.append(
                        Match(
                            runtime=runtime,
                            package=package,
                            version=version,
                            advisory_id=advisory["id"],
                            aliases=tuple(advisory.get("aliases") or ()),
                            summary=(advisory.get("summary") or advisory.get("details") or "").strip(),
                            fixed=tuple(fixed_versions(advisory, package)),
                        )
                    )
    return matches


@dataclass
class AllowEntry:
    """One accepted advisory (or group of advisories sharing a reason) from the allowlist."""

    ids: list[str]
    package: str
    runtimes: list[str]
    reason: str
    mitigation: str = ""
    used: set[str] = field(default_factory=set)

    def covers(self, match: Match) -> str | None:
        """The allowlisted id that covers a match, or None."""
        if normalize(self.package) != match.package:
            return None
        if self.runtimes and match.runtime not in self.runtimes:
            return None
        for allowed in self.ids:
            if allowed in match.ids:
                return allowed
        return None


def load_allowlist(path: Path) -> list[AllowEntry]:
    """Read `security/audit-allow.yml`; every entry needs a package, an id (or ids) and a reason."""
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries: list[AllowEntry] = []
    for number, raw in enumerate(data.get("allow") or [], start=1):
        ids = raw.get("ids") or ([raw["id"]] if raw.get("id") else [])
        runtimes = raw.get("runtimes") or ([raw["runtime"]] if raw.get("runtime") else [])
        reason = str(raw.get("reason") or "").strip()
        if not ids or not raw.get("package") or not reason:
            raise ValueError(f"{path}: entry {number} needs `package`, `id` or `ids`, and a `reason`")
        entries.append(
            AllowEntry(
                ids=[str(i) for i in ids],
                package=str(raw["package"]),
                runtimes=[str(r) for r in runtimes],
                reason=reason,
                mitigation=str(raw.get("mitigation") or "").strip(),
            )
        )
    return entries


@dataclass
class AuditResult:
    """The outcome of one audit: allowed and unallowed matches, stale allowlist ids, coverage gaps."""

    allowed: list[tuple[Match, AllowEntry]]
    unallowed: list[Match]
    stale: list[tuple[AllowEntry, str]]
    unchecked: dict[str, list[str]]

    @property
    def ok(self) -> bool:
        """True when every match is allowed with a reason."""
        return not self.unallowed


def audit(
    locks: Mapping[str, Mapping[str, str]],
    snapshot: Mapping,
    allowlist: list[AllowEntry],
) -> AuditResult:
    """Match the locks against the snapshot and sort the matches by the allowlist."""
    matches = find_matches(locks, snapshot.get("advisories") or [])
    allowed: list[tuple[Match, AllowEntry]] = []
    unallowed: list[Match] = []
    for match in matches:
        for entry in allowlist:
            hit = entry.covers(match)
            if hit:
                entry.used.add(hit)
                allowed.append((match, entry))
                break
        else:
            unallowed.append(match)
    stale = [(entry, i) for entry in allowlist for i in entry.ids if i not in entry.used]
    checked = {normalize(p) for p in (snapshot.get("source") or {}).get("packages_checked") or []}
    unchecked = {
        runtime: sorted(p for p in pins if checked and p not in checked) for runtime, pins in locks.items()
    }
    return AuditResult(allowed, unallowed, stale, {r: ps for r, ps in unchecked.items() if ps})


def snapshot_age_days(snapshot: Mapping, today: dt.date | None = None) -> int | None:
    """Days since the snapshot was taken (its `source.date`), or None when it records no date."""
    raw = (snapshot.get("source") or {}).get("date")
    if not raw:
        return None
    taken = dt.date.fromisoformat(str(raw)[:10])
    return ((today or dt.date.today()) - taken).days


def report(result: AuditResult, snapshot: Mapping, verbose: bool, out=None) -> None:
    """Print the audit's findings; unallowed matches last, where a reader looks first."""
    out = out or sys.stdout
    advisories = len(snapshot.get("advisories") or [])
    print(f"dependency audit: {advisories} advisories in the snapshot", file=out)
    age = snapshot_age_days(snapshot)
    if age is not None and age > SNAPSHOT_MAX_AGE_DAYS:
        print(
            f"warning: the advisory snapshot is {age} days old; refresh it where the advisory data "
            "is reachable (python scripts/refresh_advisories.py, see README)",
            file=out,
        )
    for runtime, packages in result.unchecked.items():
        names = f": {', '.join(packages)}" if verbose else " (-v lists them)"
        print(
            f"note: {len(packages)} locked package(s) of runtime {runtime} are not among the packages the "
            f"snapshot was checked for; refresh it to cover them{names}",
            file=out,
        )
    if verbose:
        for match, entry in result.allowed:
            print(
                f"allowed   [{match.runtime}] {match.package}=={match.version} {match.advisory_id}: "
                f"{entry.reason}",
                file=out,
            )
    else:
        print(f"{len(result.allowed)} known advisories allowed with a reason (-v lists them)", file=out)
    for entry, stale_id in result.stale:
        print(
            f"warning: stale allowlist entry {stale_id} ({entry.package}): no locked version matches it "
            "any more; remove it from security/audit-allow.yml",
            file=out,
        )
    for match in result.unallowed:
        fixed = ", ".join(match.fixed) or "none recorded"
        aliases = f" ({', '.join(match.aliases)})" if match.aliases else ""
        summary = match.summary.splitlines()[0][:160] if match.summary else ""
        print(
            f"VULNERABLE [{match.runtime}] {match.package}=={match.version}: {match.advisory_id}{aliases} "
            f"fixed in: {fixed}. {summary}",
            file=out,
        )
    if result.unallowed:
        print(
            f"FAILED: {len(result.unallowed)} advisory match(es) on locked versions "
            "not allowed. Upgrade the package (pyproject.toml, then `make lock`) or, when our code cannot "
            "reach it or it cannot be fixed, add it to security/audit-allow.yml with the reason.",
            file=out,
        )
    else:
        print("dependency audit passed", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: audit the lock files, exit 1 on any unallowed match."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lock",
        action="append",
        metavar="RUNTIME=PATH",
        help="a lock file to audit (default: requirements/rasa.lock and requirements/service.lock)",
    )
    parser.add_argument("--snapshot", type=Path, default=DEFAULT_SNAPSHOT)
    parser.add_argument("--allowlist", type=Path, default=DEFAULT_ALLOWLIST)
    parser.add_argument("--verbose", "-v", action="store_true", help="list the allowed advisories too")
    args = parser.parse_args(argv)
    lock_paths = dict(DEFAULT_LOCKS)
    if args.lock:
        lock_paths = {}
        for item in args.lock:
            runtime, _, path = item.partition("=")
            lock_paths[runtime] = Path(path)
    locks = {runtime: read_lock(path) for runtime, path in lock_paths.items()}
    snapshot = json.loads(args.snapshot.read_text(encoding="utf-8"))
    result = audit(locks, snapshot, load_allowlist(args.allowlist))
    report(result, snapshot, args.verbose)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
