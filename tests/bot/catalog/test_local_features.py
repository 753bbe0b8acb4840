"""Local features and geometric verification, on drawn photos (no model needed)."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from bot.catalog.local_features import (
    EMPTY,
    StoredFeatures,
    best_inliers,
    extract,
    extract_both,
    inliers,
)


def scene(seed: int, size: int = 400) -> Image.Image:
    """A cluttered drawing (boxes, circles, lines in many colours): plenty of distinct corners and blobs."""
    rng = random.Random(seed)
    image = Image.new("RGB", (size, size), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.randrange(size), rng.randrange(size)
        w, h = rng.randrange(8, size // 4), rng.randrange(8, size // 4)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        shape = rng.choice(("box", "circle", "line"))
        if shape == "box":
            draw.rectangle((x, y, x + w, y + h), fill=colour)
        elif shape == "circle":
            draw.ellipse((x, y, x + w, y + w), outline=colour, width=3)
        else:
            draw.line((x, y, x + w, y + h), fill=colour, width=4)
    return image


def customer_shot(image: Image.Image) -> Image.Image:
    """Cropped, turned 20 degrees, shrunk and darker: what a customer's photo does to a catalogue shot."""
    width, height = image.size
    cropped = image.crop((30, 20, width - 40, height - 10))
    turned = cropped.rotate(20, Image.Resampling.BICUBIC, expand=True, fillcolor=(90, 90, 90))
    small = turned.resize((turned.width * 3 // 5, turned.height * 3 // 5))
    return Image.eval(small, lambda value: value * 7 // 10)


def test_a_changed_photo_of_the_same_thing_verifies_and_another_thing_does_not():
    catalogue = extract(scene(1))
    same = inliers(extract(customer_shot(scene(1))), catalogue)
    other = inliers(extract(customer_shot(scene(2))), catalogue)
    assert same >= 25, same
    assert other <= 6, other  # chance agreements only (RANSAC needs 3 to say anything)


def test_a_mirrored_photo_verifies_through_its_mirror_image():
    catalogue = extract(scene(3))
    mirrored = ImageOps.mirror(customer_shot(scene(3)))
    plain = inliers(extract(mirrored), catalogue)
    both = best_inliers(extract_both(mirrored), [catalogue])
    assert both >= 25 and both > 3 * max(plain, 1), (plain, both)


def test_photos_with_nothing_to_match_give_no_features_and_no_evidence():
    blank = extract(Image.new("RGB", (300, 200), (120, 40, 40)))
    assert len(blank) == 0 and blank.descriptors.shape == (0, 128)
    assert inliers(blank, extract(scene(4))) == 0 and inliers(extract(scene(4)), EMPTY) == 0
    assert best_inliers(extract_both(scene(4)), []) == 0


def test_stored_features_round_trip_with_their_sources(tmp_path):
    first, second = extract(scene(5)), extract(scene(6))
    stored = StoredFeatures.of([("a", first), ("a#blur", EMPTY), ("b", second)])
    stored.save(tmp_path, "local")
    again = StoredFeatures.load(tmp_path, "local")
    assert again.sources == ["a", "a#blur", "b"] and again.positions()["b"] == 2
    assert isinstance(again.descriptors, np.memmap)  # read on demand, not all into memory
    assert np.array_equal(again.get(0).descriptors, first.descriptors)
    assert np.array_equal(again.get(2).points, second.points) and len(again.get(1)) == 0
    assert StoredFeatures.load(tmp_path / "none", "local").sources == []
