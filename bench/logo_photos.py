"""Test photos for logo detection: a logo in a scene (bot/catalog/demo_logo.py `logo_in_scene`), or none.

Backgrounds are the catalogue's base photos, photos of other things, or a busy pattern of boxes.
"""

from __future__ import annotations

import random

from PIL import Image

from bench.photo_queries import boxes
from bot.catalog.demo_logo import logo_in_scene as logo_photo
from bot.catalog.demo_logo import recompressed, scene_photo

__all__ = ["busy", "logo_photo", "plain_photo"]


def busy(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A background of 40 random coloured boxes."""
    return boxes(size, 40, (200, 200), rng)


def plain_photo(background: Image.Image, rng: random.Random) -> Image.Image:
    """The same kind of photo without a logo (resized and recompressed alike)."""
    return recompressed(scene_photo(background), rng.randint(45, 75))
