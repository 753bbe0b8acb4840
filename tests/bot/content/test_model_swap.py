"""bot/content/model_swap.py before any replica: what is refused, and how the report reads.

Swaps into real Rasa servers (loads, refusals, the gate, under load) are in tests/e2e/test_model_swap.py.
"""

from __future__ import annotations

import io
import json
import socket
import tarfile
from pathlib import Path

import pytest

from bot.content.model_swap import SwapRefused, model_id_of, swap


def archive(path: Path, metadata: object | None) -> Path:
    """A gzipped tar shaped like a Rasa model: a component file, then metadata.json (last, as Rasa writes)."""
    with tarfile.open(path, "w:gz") as tar:
        files = {"components/domain_provider/domain.yml": b"version: '3.1'\n"}
        if metadata is not None:
            files["metadata.json"] = json.dumps(metadata).encode()
        for name, data in files.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return path


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_the_model_id_is_read_from_the_archive(tmp_path):
    assert model_id_of(archive(tmp_path / "m.tar.gz", {"model_id": "abc123", "domain": {}})) == "abc123"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "has no metadata.json"),
        ({"domain": {}}, "has no model_id"),
        (b"not a tar", "cannot be read as a Rasa model archive"),
    ],
)
def test_what_is_not_a_rasa_model_is_refused(tmp_path, content, reason):
    path = tmp_path / "m.tar.gz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        archive(path, content)
    with pytest.raises(SwapRefused, match=reason):
        model_id_of(path)


def test_a_missing_file_is_refused_before_any_replica_and_the_report_says_where_each_stands(tmp_path):
    url = closed_port_url()
    report = swap(tmp_path / "missing.tar.gz", [url], {}, gate=False)
    assert not report.ok and "missing.tar.gz" in report.refused
    [replica] = report.replicas
    assert not replica.loaded and replica.now is None and replica.note.startswith("not tried; GET")
    lines = report.lines()
    assert lines[0].startswith(f"model {tmp_path / 'missing.tar.gz'}") and "REFUSED" in lines[0]
    assert any(line.startswith(f"  {url}: keeps an unknown model") for line in lines)


def test_a_link_is_resolved_and_the_first_replica_that_fails_stops_the_swap(tmp_path):
    model = archive(tmp_path / "model-1.tar.gz", {"model_id": "m1"})
    link = tmp_path / "current.tar.gz"
    link.symlink_to(model.name)
    first, second = closed_port_url(), closed_port_url()
    report = swap(link, [first, second], {}, gate=False)
    assert report.model == str(model) and report.model_id == "m1"
    assert not report.ok and report.refused.startswith(f"GET {first}/status")
    assert [r.url for r in report.replicas] == [first, second]
    assert report.replicas[1].note.startswith("not tried")
    assert not any(r.loaded for r in report.replicas)


def test_the_cli_needs_the_api_secret_and_exits_1_with_the_report_when_refused(tmp_path, monkeypatch, capsys):
    from bot.cli import main

    model = archive(tmp_path / "model.tar.gz", {"model_id": "m1"})
    monkeypatch.delenv("RASA_JWT_SECRET", raising=False)
    monkeypatch.delenv("RASA_API_TOKEN", raising=False)
    with pytest.raises(SystemExit, match="RASA_JWT_SECRET"):
        main(["model", "swap", str(model), "--no-gate"])

    monkeypatch.setenv("RASA_JWT_SECRET", "a secret long enough for HS256 signatures 0123456789")
    url = closed_port_url()
    with pytest.raises(SystemExit) as exited:
        main(["model", "swap", str(model), "--rasa-url", url, "--no-gate"])
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert out.startswith(f"model {model} (m1): REFUSED: GET {url}/status") and f"  {url}: keeps" in out
