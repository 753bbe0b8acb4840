"""The offline dependency audit (scripts/audit_deps.py).

OSV range matching, the allowlist, and the real lock files against the committed advisory snapshot, so a
lock change that brings a known, unallowed vulnerability fails CI.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def _load_audit_module():
    spec = importlib.util.spec_from_file_location("audit_deps", ROOT / "scripts" / "audit_deps.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["audit_deps"] = module
    spec.loader.exec_module(module)
    return module


audit_deps = _load_audit_module()


def osv(package: str, *, events=None, versions=None, ident="TEST-1", aliases=(), **extra) -> dict:
    entry: dict = {"package": {"ecosystem": "PyPI", "name": package}}
    if events is not None:
        entry["ranges"] = [{"type": "ECOSYSTEM", "events": events}]
    if versions is not None:
        entry["versions"] = versions
    summary = f"{ident} in {package}"
    return {"id": ident, "aliases": list(aliases), "summary": summary, "affected": [entry], **extra}


def matches(advisory: dict, package: str, version: str) -> bool:
    return audit_deps.advisory_matches(advisory, package, version)


# --- OSV range semantics -----------------------------------------------------------------------------


def test_introduced_fixed_range_is_half_open():
    adv = osv("aiohttp", events=[{"introduced": "1.0"}, {"fixed": "2.0"}])
    assert not matches(adv, "aiohttp", "0.9")
    assert matches(adv, "aiohttp", "1.0")
    assert matches(adv, "aiohttp", "1.9.9")
    assert matches(adv, "aiohttp", "2.0rc1")  # a pre-release of the fix is still before it
    assert not matches(adv, "aiohttp", "2.0")
    assert not matches(adv, "aiohttp", "3.1")


def test_several_introduced_fixed_pairs_in_one_range():
    adv = osv(
        "protobuf",
        events=[{"introduced": "0"}, {"fixed": "4.25.8"}, {"introduced": "5.26.0rc1"}, {"fixed": "5.29.5"}],
    )
    assert matches(adv, "protobuf", "4.23.3")
    assert not matches(adv, "protobuf", "4.25.8")
    assert not matches(adv, "protobuf", "4.25.9")
    assert matches(adv, "protobuf", "5.27.0")
    assert not matches(adv, "protobuf", "5.29.5")
    assert not matches(adv, "protobuf", "7.36.2")


def test_last_affected_is_inclusive():
    adv = osv("jinja2", events=[{"introduced": "0"}, {"last_affected": "3.1.4"}])
    assert matches(adv, "jinja2", "3.1.4")
    assert not matches(adv, "jinja2", "3.1.5")


def test_a_range_without_a_fix_covers_every_later_version():
    adv = osv("numpy", events=[{"introduced": "0"}])
    assert matches(adv, "numpy", "1.23.5")
    assert matches(adv, "numpy", "2.4.6")


def test_explicit_versions_list_without_ranges():
    adv = osv("sanic", versions=["21.12.1", "22.3"])
    assert matches(adv, "sanic", "21.12.1")
    assert matches(adv, "sanic", "22.3.0")  # 22.3 == 22.3.0 under PEP 440
    assert not matches(adv, "sanic", "21.12.2")


def test_package_names_are_normalised_both_ways():
    adv = osv("Pillow", events=[{"introduced": "0"}, {"fixed": "10.0.1"}])
    assert matches(adv, "pillow", "10.0.0")
    assert matches(adv, "PILLOW", "10.0.0")
    assert not matches(adv, "pillow-heif", "10.0.0")
    adv = osv("ruamel.yaml", events=[{"introduced": "0"}])
    assert matches(adv, "ruamel-yaml", "0.17.21")


def test_local_version_labels_compare_by_their_public_version():
    affected = osv("torch", events=[{"introduced": "0"}, {"fixed": "2.13.1"}])
    fixed = osv("torch", events=[{"introduced": "0"}, {"fixed": "2.13.0"}])
    assert matches(affected, "torch", "2.13.0+cpu")
    assert not matches(fixed, "torch", "2.13.0+cpu")
    assert matches(osv("torch", versions=["2.13.0"]), "torch", "2.13.0+cpu")


def test_withdrawn_records_and_other_ecosystems_never_match():
    assert not matches(osv("jinja2", events=[{"introduced": "0"}], withdrawn="2026-06-09"), "jinja2", "3.1.6")
    other = osv("requests", events=[{"introduced": "0"}])
    other["affected"][0]["package"]["ecosystem"] = "npm"
    assert not matches(other, "requests", "2.34.2")


def test_read_lock_normalises_names_and_refuses_loose_pins(tmp_path):
    lock = tmp_path / "x.lock"
    lock.write_text("# header\n\nPillow==12.3.0\ntorch==2.13.0+cpu\nruamel.yaml==0.17.21\n")
    assert audit_deps.read_lock(lock) == {"pillow": "12.3.0", "torch": "2.13.0+cpu", "ruamel-yaml": "0.17.21"}
    lock.write_text("pillow>=10\n")
    with pytest.raises(ValueError, match="not an exact pin"):
        audit_deps.read_lock(lock)


# --- allowlist ---------------------------------------------------------------------------------------

SNAPSHOT = {
    "source": {"date": "2026-12-05", "packages_checked": ["aiohttp", "pillow"]},
    "advisories": [
        osv("aiohttp", events=[{"introduced": "0"}, {"fixed": "3.13.4"}], ident="PYSEC-1", aliases=["CVE-1"]),
        osv("pillow", events=[{"introduced": "0"}, {"fixed": "10.0.1"}], ident="PYSEC-2"),
    ],
}
LOCKS = {
    "rasa": {"aiohttp": "3.9.5", "pillow": "12.3.0"},
    "service": {"aiohttp": "3.14.5", "pillow": "9.5.0"},
}


def allowlist(tmp_path, text: str):
    path = tmp_path / "allow.yml"
    path.write_text(text)
    return audit_deps.load_allowlist(path)


def test_an_allowed_match_passes(tmp_path):
    allow = allowlist(
        tmp_path,
        "allow:\n"
        "  - {package: aiohttp, runtimes: [rasa], id: PYSEC-1, reason: Rasa pins it}\n"
        "  - {package: Pillow, runtime: service, id: PYSEC-2, reason: test only}\n",
    )
    result = audit_deps.audit(LOCKS, SNAPSHOT, allow)
    assert result.ok
    allowed = [(m.runtime, m.advisory_id) for m, _ in result.allowed]
    assert allowed == [("rasa", "PYSEC-1"), ("service", "PYSEC-2")]
    assert result.stale == []


def test_an_unallowed_match_fails_with_a_clear_message(tmp_path):
    result = audit_deps.audit(LOCKS, SNAPSHOT, allowlist(tmp_path, "allow: []\n"))
    assert not result.ok
    assert {(m.runtime, m.package, m.advisory_id) for m in result.unallowed} == {
        ("rasa", "aiohttp", "PYSEC-1"),
        ("service", "pillow", "PYSEC-2"),
    }
    out = io.StringIO()
    audit_deps.report(result, SNAPSHOT, verbose=False, out=out)
    text = out.getvalue()
    assert "VULNERABLE [rasa] aiohttp==3.9.5: PYSEC-1 (CVE-1) fixed in: 3.13.4" in text
    assert "FAILED: 2 advisory match(es)" in text


def test_an_allow_entry_covers_its_runtime_only_and_may_name_an_alias(tmp_path):
    allow = allowlist(
        tmp_path, "allow:\n  - {package: aiohttp, runtimes: [service], ids: [CVE-1], reason: wrong runtime}\n"
    )
    result = audit_deps.audit(LOCKS, SNAPSHOT, allow)
    assert [m.runtime for m in result.unallowed if m.package == "aiohttp"] == ["rasa"]
    allow = allowlist(tmp_path, "allow:\n  - {package: aiohttp, ids: [CVE-1], reason: by alias}\n")
    result = audit_deps.audit(LOCKS, SNAPSHOT, allow)
    assert all(m.package != "aiohttp" for m in result.unallowed)


def test_stale_allow_entries_are_reported(tmp_path):
    allow = allowlist(
        tmp_path,
        "allow:\n"
        "  - {package: aiohttp, ids: [PYSEC-1, PYSEC-OLD], reason: r}\n"
        "  - {package: pillow, id: PYSEC-2, reason: r}\n"
        "  - {package: jinja2, id: PYSEC-GONE, reason: upgraded since}\n",
    )
    result = audit_deps.audit(LOCKS, SNAPSHOT, allow)
    assert result.ok
    assert sorted(stale_id for _, stale_id in result.stale) == ["PYSEC-GONE", "PYSEC-OLD"]
    out = io.StringIO()
    audit_deps.report(result, SNAPSHOT, verbose=False, out=out)
    assert "stale allowlist entry PYSEC-GONE (jinja2)" in out.getvalue()


def test_an_allow_entry_needs_a_reason(tmp_path):
    with pytest.raises(ValueError, match="reason"):
        allowlist(tmp_path, "allow:\n  - {package: aiohttp, id: PYSEC-1}\n")


def test_main_exits_non_zero_on_an_unallowed_match(tmp_path, capsys):
    lock = tmp_path / "svc.lock"
    lock.write_text("pillow==9.5.0\n")
    snapshot = tmp_path / "snap.json"
    snapshot.write_text(json.dumps(SNAPSHOT))
    empty = tmp_path / "allow.yml"
    empty.write_text("allow: []\n")
    argv = ["--lock", f"service={lock}", "--snapshot", str(snapshot), "--allowlist", str(empty)]
    assert audit_deps.main(argv) == 1
    assert "VULNERABLE [service] pillow==9.5.0: PYSEC-2" in capsys.readouterr().out
    lock.write_text("pillow==12.3.0\n")
    assert audit_deps.main(argv) == 0


# --- the real lock files, snapshot and allowlist -----------------------------------------------------


def test_the_real_lock_files_pass_the_audit(capsys):
    """Fails when a lock change brings a known vulnerability that security/audit-allow.yml does not accept."""
    assert audit_deps.main([]) == 0, capsys.readouterr().out


def test_the_real_inputs_are_well_formed():
    locks = {runtime: audit_deps.read_lock(path) for runtime, path in audit_deps.DEFAULT_LOCKS.items()}
    assert {"rasa", "aiohttp", "tensorflow", "sanic"} <= set(locks["rasa"])
    assert {"rasa-sdk", "torch", "pillow", "pip-audit", "packaging"} <= set(locks["service"])
    snapshot = json.loads(audit_deps.DEFAULT_SNAPSHOT.read_text())
    assert snapshot["source"]["date"] and snapshot["source"]["repositories"]
    assert len(snapshot["advisories"]) >= 50
    for advisory in snapshot["advisories"]:
        assert advisory["id"] and advisory["affected"], advisory
    entries = audit_deps.load_allowlist(audit_deps.DEFAULT_ALLOWLIST)
    assert entries and all(len(entry.reason) > 40 for entry in entries)


@pytest.mark.parametrize("extra", ["rasa", "service"])
def test_the_pillow_floor_is_not_covered_by_a_known_advisory(extra):
    """The pillow floor in pyproject.toml excludes the libwebp CVE-2023-4863 and every later advisory."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"][extra]
    requirement = next(Requirement(r) for r in extras if r.lower().startswith("pillow"))
    floor = next(spec.version for spec in requirement.specifier if spec.operator == ">=")
    snapshot = json.loads(audit_deps.DEFAULT_SNAPSHOT.read_text())
    pillow = [a for a in snapshot["advisories"] if a["affected"][0]["package"]["name"] == "pillow"]
    assert any("CVE-2023-4863" in a["aliases"] for a in pillow)
    assert [a["id"] for a in pillow if audit_deps.advisory_matches(a, "pillow", floor)] == []
