"""Extra views of a catalogue photo, indexed beside it so customers' photos find it more often.

A customer's photo is mirrored by a front camera, out of focus, tilted, small in a busy frame or shot
in dim light; the embedding of the catalogue shot is far from all of these. Indexing a few fixed
versions of each catalogue photo (database-side augmentation, as instance-retrieval systems do) puts a
vector near each kind of change; search groups every view by product. Each view is deterministic, so
an index build re-embeds nothing that did not change.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageEnhance, ImageFilter, ImageOps

GREY = (128, 128, 128)


def _blur(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(max(image.size) * 0.007))


def _tilt(image: Image.Image) -> Image.Image:
    return image.rotate(15, Image.Resampling.BICUBIC, fillcolor=GREY)


def _small(image: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", image.size, GREY)
    small = image.resize((image.width * 11 // 20, image.height * 11 // 20), Image.Resampling.BILINEAR)
    canvas.paste(small, ((image.width - small.width) // 2, (image.height - small.height) // 2))
    return canvas


def _dim(image: Image.Image) -> Image.Image:
    return ImageEnhance.Contrast(image).enhance(0.6)


VIEWS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "mirror": ImageOps.mirror,  # front cameras
    "blur": _blur,  # focus missed: a Gaussian blur of 0.7 % of the longer side
    "tilt": _tilt,  # turned 15 degrees, grey corners
    "small": _small,  # 55 % of the frame on grey
    "dim": _dim,  # contrast down to 60 %
}


def view(image: Image.Image, name: str | None) -> Image.Image:
    """The named view of a photo (None: the photo itself)."""
    rgb = image.convert("RGB")
    return rgb if name is None else VIEWS[name](rgb)


def source_of(sha256: str, name: str | None) -> str:
    """How an index row names the photo and view it was made from: "<sha256>" or "<sha256>#<view>"."""
    return sha256 if name is None else f"{sha256}#{name}"


def photo_of(source: str) -> str:
    """The photo's sha256 in a row's source."""
    return source.split("#", 1)[0]
