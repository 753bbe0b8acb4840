"""The replies file: well-formed, and every reply the code asks for exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from actions.replies import REPLIES_FILE, Replies

ROOT = Path(__file__).resolve().parents[2]
REPLIES = Replies.load()


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def referenced_keys() -> set[str]:
    """Reply keys named in the code: Reply("key", ...) and say(dispatcher, "key", ...)."""
    pattern = re.compile(r'(?:Reply\(\s*|say\(dispatcher,\s*)"([a-z_]+)"')
    sources = [*ROOT.joinpath("actions").glob("*.py"), *ROOT.joinpath("bot").rglob("*.py")]
    return {key for path in sources for key in pattern.findall(path.read_text(encoding="utf-8"))}


def test_every_reply_the_code_uses_exists():
    keys = referenced_keys()
    assert len(keys) > 20
    assert keys <= set(REPLIES.texts), keys - set(REPLIES.texts)


def test_every_reply_is_used():
    assert set(REPLIES.texts) <= referenced_keys() | {"ask_order_id"}


@pytest.mark.parametrize("key", sorted(REPLIES.texts))
def test_variants_of_a_reply_take_the_same_placeholders(key):
    variants = [placeholders(v["text"]) for v in REPLIES.texts[key]]
    assert all(v == variants[0] for v in variants)
    values = dict.fromkeys(variants[0], "x")
    assert REPLIES.render(key, values)["text"]


def test_missing_value_is_an_error_not_a_silent_brace():
    with pytest.raises(KeyError):
        REPLIES.render("order_not_found", {})


def test_malformed_file_is_refused(tmp_path):
    bad = tmp_path / "replies.yml"
    bad.write_text("greet: hello\n")
    with pytest.raises(ValueError, match="greet"):
        Replies.load(bad)
    assert REPLIES_FILE.name == "replies.yml"
