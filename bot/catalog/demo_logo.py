"""The demo brand's logo, drawn at run time (nothing binary is committed), a competitor's, and photos of them.

A logo is found in photos by its local features (bot/catalog/logos.py), so it needs corners and
strokes that no other picture has in the same arrangement: a lettered wordmark beside an asymmetric
emblem (a shuttle crossing three threads), as real wordmarks are. The font is the one Pillow ships.

`logo_in_scene` makes the photo a customer would take of it: the logo turned (up to 30 degrees), scaled
to 18-45 % of the photo's width, seen at a slant (a perspective warp), relit, partly hidden by an object
in front of it (a box over 10-25 % of it, in half of the photos), on a background, and recompressed as
platforms do; everything comes from the `random.Random` passed in. `bot catalog logo-photo` writes one
to send in the simulator; the tests and bench/logo_detection.py use many.
"""

from __future__ import annotations

import io
import random
from functools import cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

NAVY, CREAM, MUSTARD = (31, 42, 84), (240, 230, 204), (216, 170, 48)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def draw_logo(
    name: str = "LOOM & CO",
    tagline: str = "EST. 2019 · KNITWEAR",
    hue: tuple[int, int, int] = NAVY,
    emblem: str = "shuttle",
) -> Image.Image:
    """A 520×220 wordmark with an emblem; other names, colours or emblems make other brands' logos."""
    image = Image.new("RGB", (520, 220), CREAM)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((6, 6, 513, 213), radius=24, outline=hue, width=6)
    draw.ellipse((26, 40, 166, 180), fill=hue)
    if emblem == "shuttle":  # three threads of different slopes, and a shuttle crossing them
        for offset, width in ((-34, 5), (0, 9), (30, 4)):
            draw.line((36, 110 + offset - 20, 156, 110 + offset + 14), fill=CREAM, width=width)
        draw.polygon([(52, 150), (96, 62), (142, 78), (118, 96), (84, 158)], fill=MUSTARD, outline=CREAM)
        draw.rectangle((92, 104, 104, 116), fill=hue)
    else:  # two peaks and a sun
        draw.polygon([(40, 160), (86, 76), (112, 120), (128, 96), (156, 160)], fill=CREAM)
        draw.ellipse((120, 56, 146, 82), fill=MUSTARD)
    draw.text((186, 46), name, font=_font(54), fill=hue)
    draw.text((188, 128), tagline, font=_font(24), fill=hue)
    draw.line((188, 116, 470, 116), fill=MUSTARD, width=4)
    return image


def competitor_logo() -> Image.Image:
    """Another brand's logo in the same style: a detector must tell the two apart."""
    return draw_logo("NORTH KNIT", "SINCE 1998 · OUTDOOR", (120, 30, 40), emblem="peaks")


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def scene_photo(background: Image.Image) -> Image.Image:
    """The background as a photo of the scene: RGB, 800 px wide."""
    height = max(1, round(800 * background.height / background.width))
    return background.convert("RGB").resize((800, height))


def recompressed(image: Image.Image, quality: int) -> Image.Image:
    """The image after a JPEG round trip at `quality`, as platforms recompress what customers send."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def _warp(logo: Image.Image, rng: random.Random, width: int) -> tuple[Image.Image, Image.Image]:
    """The logo scaled, turned and slanted, and its mask, on a transparent canvas `width` px wide."""
    scale = rng.uniform(0.18, 0.45) * width / logo.width
    w, h = logo.width * scale, logo.height * scale
    angle = np.radians(rng.uniform(-30, 30))
    slant = rng.uniform(0.0, 0.18)  # one side of the logo nearer the camera than the other
    corners = np.float32([[0, 0], [w, 0], [w, h * (1 - slant)], [0, h]])
    corners[1, 1] += h * slant / 2
    rotation = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = corners @ rotation.T
    corners -= corners.min(axis=0)
    box = np.ceil(corners.max(axis=0)).astype(int) + 1
    source = np.float32([[0, 0], [logo.width, 0], [logo.width, logo.height], [0, logo.height]])
    matrix = cv2.getPerspectiveTransform(source, corners.astype(np.float32))
    pixels = cv2.warpPerspective(np.asarray(logo), matrix, tuple(box), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((logo.height, logo.width), 255, np.uint8), matrix, tuple(box))
    return Image.fromarray(pixels), Image.fromarray(mask)


def logo_in_scene(logo: Image.Image, background: Image.Image, rng: random.Random) -> Image.Image:
    """`logo` in a photo of `background` (resized to 800 px wide), changed as described above."""
    scene = scene_photo(background)
    pixels, mask = _warp(ImageEnhance.Brightness(logo).enhance(rng.uniform(0.7, 1.2)), rng, scene.width)
    fit = min(1.0, 0.9 * scene.width / pixels.width, 0.9 * scene.height / pixels.height)
    if fit < 1.0:  # a wide, low scene: the logo as large as fits
        pixels = pixels.resize((max(1, int(pixels.width * fit)), max(1, int(pixels.height * fit))))
        mask = mask.resize(pixels.size)
    left = rng.randint(0, scene.width - pixels.width)
    top = rng.randint(0, scene.height - pixels.height)
    scene.paste(pixels, (left, top), mask)
    if rng.random() < 0.5:  # something in front of the logo
        share = rng.uniform(0.10, 0.25)
        w, h = round(pixels.width * share**0.5), round(pixels.height * share**0.5)
        x, y = left + rng.randint(0, pixels.width - w), top + rng.randint(0, pixels.height - h)
        ImageDraw.Draw(scene).rectangle((x, y, x + w, y + h), fill=_colour(rng))
    return recompressed(scene, rng.randint(45, 75))
