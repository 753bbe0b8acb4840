"""Test photos for logo detection: a logo in a scene (bot/catalog/demo_logo.py `logo_in_scene`), or none.

Backgrounds are the catalogue's base photos, photos of other things, or a busy pattern of boxes.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

from bench.photo_queries import _random_color
from bot.catalog.demo_logo import logo_in_scene as logo_photo

__all__ = ["busy", "logo_photo", "plain_photo"]


def busy(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A background of 40 random coloured boxes."""
    canvas = Image.new("RGB", size, _random_color(rng))
    draw = ImageDraw.Draw(canvas)
    for _ in range(40):
        left, top = rng.randrange(size[0]), rng.randrange(size[1])
        draw.rectangle(
            (left, top, left + rng.randrange(10, 200), top + rng.randrange(10, 200)), fill=_random_color(rng)
        )
    return canvas


def plain_photo(background: Image.Image, rng: random.Random) -> Image.Image:
    """The same kind of photo without a logo (resized and recompressed alike)."""
    scene = background.convert("RGB").resize((800, max(1, round(800 * background.height / background.width))))
    buffer = io.BytesIO()
    scene.save(buffer, "JPEG", quality=rng.randint(45, 75))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")
