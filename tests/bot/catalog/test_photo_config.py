"""photos.yml: the committed file loads, bad edits are refused with the reason, confidence is monotone."""

from __future__ import annotations

import re

import pytest

from bot.catalog.photo_config import CONFIG_FILE, PhotoConfig


def test_the_committed_file_loads_and_sets_every_level():
    config = PhotoConfig.load(CONFIG_FILE)
    assert config.views and config.candidates >= 5
    assert 0 < config.show_several <= config.show_one < 1


def test_confidence_grows_with_similarity_and_with_verification():
    weights = PhotoConfig.load(CONFIG_FILE).confidence
    assert weights.of(0.6, 40) > weights.of(0.6, 10) > weights.of(0.6, 0)
    assert weights.of(0.8, 10) > weights.of(0.5, 10)
    assert weights.of(0.9, 0) < 0.3  # looking alike without verification is not enough to show a product
    assert weights.of(-1.0, 0) >= 0.0 and weights.of(1.0, 10**6) <= 1.0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("index: {views: [mirror, sepia]}", "unknown view(s) ['sepia']"),
        ("search: {candidates: 0}", "search.candidates must be 1-100"),
        ("levels: {show_one: 1.5}", "levels.show_one is a probability"),
        ("levels: {show_one: 0.4, show_several: 0.6}", "show_several must not be above"),
        ("levels: {show_one: high}", "could not convert"),
        ("- a list", "expected a mapping"),
        ("logos: {brands: [{name: Acme}]}", "a logo needs a name and an image"),
        ("logos: {brands: [{name: Acme, image: acme-logo-missing.png}]}", "no file 'acme-logo-missing.png'"),
        ("logos: {min_inliers: 3}", "logos.min_inliers below 6"),
    ],
)
def test_bad_edits_are_refused_with_the_reason(tmp_path, text, reason):
    path = tmp_path / "photos.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(reason)):
        PhotoConfig.load(path)


def test_a_missing_file_keeps_the_defaults(tmp_path):
    assert PhotoConfig.load(tmp_path / "photos.yml") == PhotoConfig()


def test_no_logos_at_all_is_allowed(tmp_path):
    path = tmp_path / "photos.yml"
    path.write_text("logos: {brands: []}")
    assert PhotoConfig.load(path).logos == ()
