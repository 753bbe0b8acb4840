"""Brand logos in photos: the demo logo is found in changed scenes, another brand's is told apart."""

from __future__ import annotations

import random

import pytest
from PIL import Image

from bench.logo_photos import busy, logo_photo, plain_photo
from bot.catalog.demo_images import load_base
from bot.catalog.demo_logo import competitor_logo, draw_logo
from bot.catalog.logos import ConfiguredLogos, LogoDetector, logo_from_image
from bot.catalog.photo_config import PhotoConfig
from bot.cli import main


@pytest.fixture(scope="module")
def detector() -> LogoDetector:
    ours = logo_from_image("Loom & Co", True, draw_logo())
    theirs = logo_from_image("North Knit", False, competitor_logo())
    return LogoDetector([ours, theirs], PhotoConfig().logo_min_inliers)


def scenes(count: int) -> list[Image.Image]:
    backgrounds = [load_base("coffee"), load_base("chelsea"), load_base("rocket")]
    return [busy((800, 600), random.Random(n)) if n % 4 == 0 else backgrounds[n % 3] for n in range(count)]


@pytest.mark.slow
def test_our_logo_is_found_turned_slanted_small_and_partly_hidden(detector):
    found = []
    for number, scene in enumerate(scenes(12)):
        sightings = detector.detect(logo_photo(draw_logo(), scene, random.Random(100 + number)))
        found.append([(s.name, s.ours) for s in sightings][:1] == [("Loom & Co", True)])
    assert sum(found) >= 11, found


@pytest.mark.slow
def test_another_brands_logo_is_not_ours_and_a_photo_without_one_has_none(detector):
    for number, scene in enumerate(scenes(6)):
        competitor = detector.detect(logo_photo(competitor_logo(), scene, random.Random(200 + number)))
        assert [s.name for s in competitor if s.ours] == []
        assert detector.detect(plain_photo(scene, random.Random(number))) == []


def test_no_logos_configured_means_no_sightings():
    assert LogoDetector([], 15).detect(draw_logo()) == []


def test_the_detector_follows_photos_yml():
    config = PhotoConfig()
    logos = ConfiguredLogos(lambda: config)
    first = logos.detector()
    assert [logo.name for logo in first.logos] == ["Loom & Co"] and logos.detector() is first
    config = PhotoConfig(logo_min_inliers=20)
    assert logos.detector() is not first and logos.detector().min_inliers == 20


def test_the_cli_writes_a_photo_of_the_demo_logo_for_the_simulator(tmp_path, detector, capsys):
    main(["catalog", "logo-photo", str(tmp_path / "logo.jpg"), "--seed", "3"])
    assert "send it with the simulator" in capsys.readouterr().out
    with Image.open(tmp_path / "logo.jpg") as photo:
        assert photo.format == "JPEG"
        assert [(s.name, s.ours) for s in detector.detect(photo)][:1] == [("Loom & Co", True)]
