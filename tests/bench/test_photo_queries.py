"""Photo queries for the recall benchmark: every augmentation changes the photo, sanely and repeatably."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from bench.photo_queries import AUGMENTATIONS, queries

REQUIRED = {"crop", "rotate", "scale", "lighting", "blur", "jpeg", "background", "flip", "combined"}


def product(width: int = 320, height: int = 240, mode: str = "RGB") -> Image.Image:
    """A lopsided, textured test photo: mirroring, blurring or recompressing it all show."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, (x * y) % 256], axis=-1).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 30, width // 3, height - 40), fill=(200, 30, 40))
    draw.ellipse(
        (width // 2, 20, width - 30, height // 2), fill=(20, 40, 180), outline=(255, 255, 255), width=4
    )
    for step in range(0, width, 16):
        draw.line((step, height - 20, step + 8, height - 5), fill=(255, 255, 0), width=2)
    return image.convert(mode)


def as_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute pixel difference, after bringing `a` to `b`'s size."""
    resized = a.convert("RGB").resize(b.size, Image.Resampling.BILINEAR)
    return float(
        np.abs(np.asarray(resized, dtype=np.int16) - np.asarray(b.convert("RGB"), dtype=np.int16)).mean()
    )


def test_every_required_augmentation_is_there() -> None:
    assert set(AUGMENTATIONS) >= REQUIRED


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_augmentation_gives_a_sane_changed_rgb_image(name: str, mode: str) -> None:
    original = product(mode=mode)
    for seed in range(8):
        query = AUGMENTATIONS[name](original, random.Random(seed))
        assert query.mode == "RGB"
        assert 0.2 * original.width <= query.width <= 2.1 * original.width, query.size
        assert 0.2 * original.height <= query.height <= 2.1 * original.height, query.size
        changed = query.size != original.size or difference(query, original) > 1.0
        assert changed, (name, seed)


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_augmentation_is_deterministic_for_a_seed(name: str) -> None:
    original = product()
    first = AUGMENTATIONS[name](original, random.Random(7))
    again = AUGMENTATIONS[name](original, random.Random(7))
    assert as_bytes(first) == as_bytes(again)
    others = {as_bytes(AUGMENTATIONS[name](original, random.Random(seed))) for seed in range(6)}
    if name != "flip":  # a mirror has no parameters
        assert len(others) > 1


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_augmentation_leaves_its_input_alone(name: str) -> None:
    original = product()
    before = as_bytes(original)
    AUGMENTATIONS[name](original, random.Random(3))
    assert as_bytes(original) == before


def test_crop_keeps_60_to_90_percent_of_the_area() -> None:
    original = product()
    for seed in range(50):
        crop = AUGMENTATIONS["crop"](original, random.Random(seed))
        share = crop.width * crop.height / (original.width * original.height)
        assert 0.58 <= share <= 0.91, (seed, crop.size)


def test_rotation_keeps_the_frame_and_fills_the_corners() -> None:
    original = product()
    rotated = AUGMENTATIONS["rotate"](original, random.Random(1))
    assert rotated.size == original.size
    pixels = np.asarray(rotated)
    corners = [pixels[0, 0], pixels[0, -1], pixels[-1, 0], pixels[-1, -1]]
    assert all((corner == corners[0]).all() for corner in corners)  # one plain fill colour


def test_scale_shrinks_or_enlarges() -> None:
    original = product()
    ratios = [AUGMENTATIONS["scale"](original, random.Random(s)).width / original.width for s in range(30)]
    assert all(0.24 <= r <= 0.61 or 1.29 <= r <= 2.01 for r in ratios), ratios
    assert min(ratios) < 1 < max(ratios)


def test_lighting_moves_brightness_or_contrast() -> None:
    original = product()
    grey = np.asarray(original.convert("L"), dtype=np.float64)
    for seed in range(10):
        lit = np.asarray(
            AUGMENTATIONS["lighting"](original, random.Random(seed)).convert("L"), dtype=np.float64
        )
        assert abs(lit.mean() - grey.mean()) > 3 or abs(lit.std() - grey.std()) > 3, seed


def test_blur_removes_fine_detail() -> None:
    original = product()
    blurred = AUGMENTATIONS["blur"](original, random.Random(0))

    def detail(image: Image.Image) -> float:
        return float(np.abs(np.diff(np.asarray(image.convert("L"), dtype=np.float64), axis=1)).mean())

    assert blurred.size == original.size
    assert detail(blurred) < 0.8 * detail(original)


def test_jpeg_is_a_real_round_trip() -> None:
    original = product()
    compressed = AUGMENTATIONS["jpeg"](original, random.Random(0))
    assert compressed.size == original.size
    assert 1.0 < difference(compressed, original) < 40


def test_background_puts_the_product_on_a_new_canvas() -> None:
    original = product(512, 512)
    for seed in range(10):
        query = AUGMENTATIONS["background"](original, random.Random(seed))
        assert query.size == original.size
        pixels = np.asarray(query, dtype=np.int16)
        # At 50-80 % scale at least a fifth of the frame on one side is canvas, not product.
        border = np.concatenate([pixels[:, :50].reshape(-1, 3), pixels[:, -50:].reshape(-1, 3)])
        source = np.concatenate(
            [np.asarray(original)[:, :50].reshape(-1, 3), np.asarray(original)[:, -50:].reshape(-1, 3)]
        )
        assert np.abs(border - source).mean() > 10, seed


def test_flip_mirrors() -> None:
    original = product()
    assert as_bytes(AUGMENTATIONS["flip"](original, random.Random(0))) == as_bytes(ImageOps.mirror(original))


def test_combined_differs_from_each_single_step() -> None:
    original = product()
    combined = AUGMENTATIONS["combined"](original, random.Random(4))
    singles = [AUGMENTATIONS[name](original, random.Random(4)) for name in REQUIRED - {"combined"}]
    assert all(as_bytes(combined) != as_bytes(single) for single in singles)


def test_queries_are_deterministic_and_cover_all_augmentations() -> None:
    original = product()
    count = len(AUGMENTATIONS)
    first = queries(original, seed=11, per_image=count)
    again = queries(original, seed=11, per_image=count)

    assert [name for name, _ in first] == [name for name, _ in again]
    assert [as_bytes(image) for _, image in first] == [as_bytes(image) for _, image in again]
    assert sorted(name for name, _ in first) == sorted(AUGMENTATIONS)
    assert all(image.mode == "RGB" for _, image in first)


def test_queries_differ_between_seeds_and_keep_their_prefix() -> None:
    original = product()
    short = queries(original, seed=3, per_image=4)
    long = queries(original, seed=3, per_image=2 * len(AUGMENTATIONS) + 1)
    assert len(short) == 4
    assert len(long) == 2 * len(AUGMENTATIONS) + 1
    assert [(n, as_bytes(i)) for n, i in short] == [(n, as_bytes(i)) for n, i in long[:4]]
    other = queries(original, seed=4, per_image=4)
    assert [as_bytes(i) for _, i in other] != [as_bytes(i) for _, i in short]
    assert queries(original, seed=3, per_image=0) == []
