"""Files editors change while the services run: re-read when changed, at most every few seconds."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from bot.config_files import ConfigFileError, WatchedFile, read_yaml
from bot.desk import canned
from bot.handoff.escalation import EscalationConfig
from bot.monitoring.config import MonitoringConfig


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    """A parser that counts its calls: the YAML number in the file."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, path: Path) -> int:
        self.calls += 1
        value = read_yaml(path)
        if not isinstance(value, int):
            raise ValueError(f"expected a number, got {value!r}")
        return value


def edit(path: Path, text: str) -> None:
    """Write `text` and move the modification time on, as an editor's save would."""
    stat = path.stat() if path.exists() else None
    path.write_text(text)
    if stat is not None:  # same size and a coarse clock could hide the edit from mtime+size
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def watched(tmp_path) -> tuple[WatchedFile[int], Path, Clock, Counting]:
    path, clock, parse = tmp_path / "n.yml", Clock(), Counting()
    path.write_text("1\n")
    return WatchedFile(path, parse, every=2.0, clock=clock), path, clock, parse


def test_a_change_is_used_after_the_check_interval(watched):
    file, path, clock, _ = watched
    assert file.value == 1
    edit(path, "22\n")
    clock.now += 1.9
    assert file.value == 1  # not checked yet
    clock.now += 0.1
    assert file.value == 22


def test_an_unchanged_file_is_not_read_again(watched):
    file, _, clock, parse = watched
    for _ in range(5):
        clock.now += 10
        assert file.value == 1
    assert parse.calls == 1


def test_between_checks_the_file_is_not_even_looked_at(watched, monkeypatch):
    file, _, clock, _ = watched
    looked = []
    monkeypatch.setattr("bot.config_files.signature", lambda path: looked.append(path))
    clock.now += 1.0
    assert file.value == 1 and file.value == 1
    assert looked == []


def test_a_broken_edit_keeps_the_last_good_value_and_warns_once(watched, caplog):
    file, path, clock, parse = watched
    edit(path, "oops: [\n")
    with caplog.at_level(logging.WARNING, logger="bot.config_files"):
        clock.now += 2
        assert file.value == 1
        clock.now += 2
        assert file.value == 1
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert str(path) in warning.getMessage() and "not valid YAML" in warning.getMessage()
    assert parse.calls == 2  # the broken version is parsed once, not at every check
    edit(path, "3\n")
    clock.now += 2
    assert file.value == 3


def test_a_value_the_parser_refuses_is_kept_out_too(watched, caplog):
    file, path, clock, _ = watched
    edit(path, "text\n")
    clock.now += 2
    with caplog.at_level(logging.WARNING, logger="bot.config_files"):
        assert file.value == 1
    assert "expected a number, got 'text'" in caplog.text


def test_an_invalid_file_at_start_up_is_an_error_naming_it(tmp_path):
    path = tmp_path / "n.yml"
    path.write_text("[unclosed\n")
    with pytest.raises(ConfigFileError, match=f"{path}: not valid YAML"):
        WatchedFile(path, Counting())
    with pytest.raises(ConfigFileError, match="No such file"):
        WatchedFile(tmp_path / "missing.yml", Counting())


def test_canned_responses_follow_the_file(tmp_path):
    path, clock = tmp_path / "canned.yml", Clock()
    path.write_text("- {id: hi, title: Hello, text: 'Hello {customer}'}\n")
    file = WatchedFile(path, canned.parse, clock=clock)
    assert [c.id for c in file.value] == ["hi"]
    edit(path, "- {id: hi, title: Hello, text: 'Hi {customer}'}\n- {id: bye, title: Bye, text: Bye}\n")
    clock.now += 2
    assert [c.id for c in file.value] == ["hi", "bye"]
    edit(path, "- {id: hi}\n")  # a broken entry
    clock.now += 2
    assert [c.id for c in file.value] == ["hi", "bye"]


def test_canned_load_reads_through_one_watcher_per_file(tmp_path):
    path = tmp_path / "canned.yml"
    path.write_text("- {id: a, title: A, text: a}\n")
    assert canned.load(path) == canned.load(path)
    assert canned.watched(path) is canned.watched(path)
    with pytest.raises(ConfigFileError, match="entry 1 needs id, title and text"):
        bad = tmp_path / "bad.yml"
        bad.write_text("- {id: a}\n")
        canned.watched(bad)


def test_escalation_yml_follows_the_file(tmp_path):
    path, clock = tmp_path / "escalation.yml", Clock()
    path.write_text("trend: {alpha: 0.3}\n")
    file = EscalationConfig.watch(path, clock=clock)
    assert file.value.alpha == 0.3
    edit(path, "trend: {alpha: 0.7}\nvip: {customers: [Ada]}\n")
    clock.now += 2
    assert file.value.alpha == 0.7 and file.value.is_vip(["ada"])
    edit(path, "trend: {alpha: lots}\n")
    clock.now += 2
    assert file.value.alpha == 0.7


def test_monitoring_yml_follows_the_file(tmp_path):
    path, clock = tmp_path / "monitoring.yml", Clock()
    path.write_text("interval_seconds: 5\n")
    file = MonitoringConfig.watch({"MONITORING_CONFIG": str(path)}, clock=clock)
    assert file.value.interval_seconds == 5
    edit(path, "interval_seconds: 7\n")
    clock.now += 2
    assert file.value.interval_seconds == 7
    edit(path, "intervall_seconds: 1\n")  # a typo is refused, not silently ignored
    clock.now += 2
    assert file.value.interval_seconds == 7
    path.write_text("spikes: {windw_minutes: 5}\n")
    with pytest.raises(ConfigFileError, match="unknown settings windw_minutes"):
        MonitoringConfig.watch({"MONITORING_CONFIG": str(path)})
