"""Build or refresh `security/advisories.json`, the offline advisory snapshot that `make audit` reads.

Run it where the advisory data can be reached (this project's usual machines and CI cannot: they reach
the package index but neither api.osv.dev nor github.com), then commit the new snapshot:

    # from OSV's API (PyPA's PYSEC and GitHub's GHSA records alike)
    python scripts/refresh_advisories.py --osv-api
    # or from a checkout of https://github.com/pypa/advisory-database (PYSEC records only)
    git clone --depth 1 https://github.com/pypa/advisory-database /tmp/advisory-database
    python scripts/refresh_advisories.py --checkout /tmp/advisory-database

For every package in the lock files it keeps the advisories that can still matter: those covering the
locked version, and those covering any later version (so an upgrade that brings a known vulnerability
fails the audit too). Advisories fixed at or before the locked version are dropped. Records are shortened
(id, aliases, summary, the ECOSYSTEM ranges or version list of the locked packages) and the header records
where and when they were read. Duplicates (a PYSEC record and its GHSA alias, or a `PYSEC-0000-` draft and
its assigned id) are kept once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_deps import (  # a script beside this one, not a package
    DEFAULT_LOCKS,
    DEFAULT_SNAPSHOT,
    affected_entry_matches,
    normalize,
    parse_version,
    read_lock,
)

OSV_API = "https://api.osv.dev/v1"
MAX_DETAILS = 400


def still_relevant(advisory: Mapping, package: str, version: str) -> bool:
    """Whether an advisory covers the locked version or any later one (not only older versions)."""
    locked = parse_version(version)
    for entry in advisory.get("affected") or []:
        if normalize((entry.get("package") or {}).get("name", "")) != package:
            continue
        if affected_entry_matches(entry, package, version):
            return True
        for listed in entry.get("versions") or []:
            parsed = parse_version(listed)
            if parsed is not None and locked is not None and parsed > locked:
                return True
        for rng in entry.get("ranges") or []:
            if rng.get("type") != "ECOSYSTEM":
                continue
            events = rng.get("events") or []
            if not any("fixed" in e or "last_affected" in e for e in events):
                return True  # never fixed
            for event in events:
                for kind in ("fixed", "last_affected", "introduced"):
                    point = parse_version(event[kind]) if kind in event else None
                    if point is not None and locked is not None and point > locked:
                        return True
    return False


def shorten(advisory: Mapping, packages: set[str], source: str) -> dict:
    """The parts of an OSV record the audit and a reader need, for the locked packages only."""
    affected = []
    for entry in advisory.get("affected") or []:
        pkg = entry.get("package") or {}
        if pkg.get("ecosystem") != "PyPI" or normalize(pkg.get("name", "")) not in packages:
            continue
        ranges = [
            {"type": "ECOSYSTEM", "events": r.get("events") or []}
            for r in entry.get("ranges") or []
            if r.get("type") == "ECOSYSTEM"
        ]
        item: dict = {"package": {"ecosystem": "PyPI", "name": normalize(pkg["name"])}}
        if ranges:
            item["ranges"] = ranges
        else:
            item["versions"] = [str(v) for v in entry.get("versions") or []]
        affected.append(item)
    details = " ".join(str(advisory.get("details") or "").split())
    record = {
        "id": advisory["id"],
        "aliases": sorted(advisory.get("aliases") or []),
        "published": str(advisory.get("published") or "")[:10],
        "summary": str(advisory.get("summary") or "").strip() or details[:MAX_DETAILS],
        "affected": affected,
        "source": source,
    }
    if advisory.get("withdrawn"):
        record["withdrawn"] = str(advisory["withdrawn"])[:10]
    return record


def dedupe(records: Iterable[dict]) -> list[dict]:
    """Keep one record per vulnerability: assigned ids before `PYSEC-0000-` drafts, PYSEC before GHSA."""

    def rank(record: dict) -> tuple[int, str]:
        rid = record["id"]
        return (2 if rid.startswith("PYSEC-0000-") else 0 if rid.startswith("PYSEC-") else 1, rid)

    seen: set[str] = set()
    kept: list[dict] = []
    for record in sorted(records, key=rank):
        names = {record["id"], *record["aliases"]}
        if names & seen:
            continue
        seen |= names
        kept.append(record)
    return sorted(kept, key=lambda r: (r["affected"][0]["package"]["name"] if r["affected"] else "", r["id"]))


def from_checkout(checkout: Path, locks: Mapping[str, Mapping[str, str]]) -> tuple[list[dict], str]:
    """Read `vulns/<package>/*.yaml` of a pypa/advisory-database checkout for every locked package."""
    dirs = {normalize(d.name): d for d in (checkout / "vulns").iterdir() if d.is_dir()}
    records = []
    for package, versions in _locked_versions(locks).items():
        folder = dirs.get(package)
        if folder is None:
            continue
        for path in sorted(folder.glob("*.yaml")):
            advisory = yaml.safe_load(path.read_text(encoding="utf-8"))
            if any(still_relevant(advisory, package, v) for v in versions):
                source = f"pypa/advisory-database:{path.relative_to(checkout)}"
                records.append(shorten(advisory, set(_locked_versions(locks)), source))
    head = (checkout / ".git" / "HEAD").read_text().strip() if (checkout / ".git").exists() else "unknown"
    return records, head


def from_osv_api(locks: Mapping[str, Mapping[str, str]]) -> list[dict]:
    """Ask OSV's API for every advisory of every locked package (all versions), then filter."""
    records = []
    for package, versions in _locked_versions(locks).items():
        page_token = None
        while True:
            query: dict = {"package": {"name": package, "ecosystem": "PyPI"}}
            if page_token:
                query["page_token"] = page_token
            answer = _post(f"{OSV_API}/query", query)
            for advisory in answer.get("vulns") or []:
                if any(still_relevant(advisory, package, v) for v in versions):
                    source = f"api.osv.dev:{advisory['id']}"
                    records.append(shorten(advisory, set(_locked_versions(locks)), source))
            page_token = answer.get("next_page_token")
            if not page_token:
                break
    return records


def _post(url: str, body: Mapping) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def _locked_versions(locks: Mapping[str, Mapping[str, str]]) -> dict[str, list[str]]:
    versions: dict[str, list[str]] = {}
    for pins in locks.values():
        for package, version in pins.items():
            versions.setdefault(package, [])
            if version not in versions[package]:
                versions[package].append(version)
    return dict(sorted(versions.items()))


def main(argv: list[str] | None = None) -> int:
    """Command line: refresh the snapshot from OSV's API or from a checkout of pypa/advisory-database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--osv-api", action="store_true", help="query api.osv.dev")
    where.add_argument("--checkout", type=Path, help="a local clone of pypa/advisory-database")
    parser.add_argument("--out", type=Path, default=DEFAULT_SNAPSHOT)
    args = parser.parse_args(argv)
    locks = {runtime: read_lock(path) for runtime, path in DEFAULT_LOCKS.items()}
    if args.osv_api:
        records, source = from_osv_api(locks), {"repository": "api.osv.dev (PyPI ecosystem)"}
    else:
        records, head = from_checkout(args.checkout, locks)
        source = {"repository": "pypa/advisory-database", "commits": [head]}
    source.update(
        {
            "date": dt.date.today().isoformat(),
            "method": "scripts/refresh_advisories.py",
            "packages_checked": sorted(_locked_versions(locks)),
        }
    )
    snapshot = {"source": source, "advisories": dedupe(records)}
    args.out.write_text(json.dumps(snapshot, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    count, packages = len(snapshot["advisories"]), len(source["packages_checked"])
    print(f"{args.out}: {count} advisories for {packages} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
