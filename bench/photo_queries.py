"""Customer-style photo queries made from catalogue photos, for the photo-lookup recall benchmark.

A customer's photo of a product is never the catalogue shot: it is cropped, tilted, resized, lit
differently, blurred, recompressed by the platform, shot against another background or mirrored by a
selfie camera. Each augmentation imitates one of these; `combined` stacks two or three. Everything is
driven by the `random.Random` passed in, so a seed gives the same queries on every run.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from bot.catalog.demo_logo import recompressed

Augmentation = Callable[[Image.Image, random.Random], Image.Image]


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


def _random_color(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def random_crop(image: Image.Image, rng: random.Random) -> Image.Image:
    """Keep 60-90 % of the area, with the aspect ratio loosened by up to a third either way."""
    width, height = image.size
    area = rng.uniform(0.60, 0.90) * width * height
    aspect = rng.uniform(0.75, 1.33) * width / height
    crop_w = min(width, max(1, round((area * aspect) ** 0.5)))
    crop_h = min(height, max(1, round(area / crop_w)))
    left, top = rng.randint(0, width - crop_w), rng.randint(0, height - crop_h)
    return _rgb(image).crop((left, top, left + crop_w, top + crop_h))


def rotation(image: Image.Image, rng: random.Random) -> Image.Image:
    """Tilt by 5-25 degrees either way; the uncovered corners get a plain colour, as from a table top."""
    angle = rng.uniform(5, 25) * rng.choice((-1, 1))
    return _rgb(image).rotate(angle, Image.Resampling.BICUBIC, expand=False, fillcolor=_random_color(rng))


def rescale(image: Image.Image, rng: random.Random) -> Image.Image:
    """Shrink to 25-60 % (a thumbnail) or enlarge to 130-200 % (an upscaled screenshot)."""
    factor = rng.uniform(0.25, 0.60) if rng.random() < 0.5 else rng.uniform(1.3, 2.0)
    size = (max(8, round(image.width * factor)), max(8, round(image.height * factor)))
    return _rgb(image).resize(size, Image.Resampling.BILINEAR)


def lighting(image: Image.Image, rng: random.Random) -> Image.Image:
    """Brightness and contrast each moved 15-40 % up or down, like indoor light or a phone's exposure."""

    def factor() -> float:
        return 1 + rng.uniform(0.15, 0.40) * rng.choice((-1, 1))

    brighter = ImageEnhance.Brightness(_rgb(image)).enhance(factor())
    return ImageEnhance.Contrast(brighter).enhance(factor())


def blur(image: Image.Image, rng: random.Random) -> Image.Image:
    """Gaussian blur of 0.4-1.0 % of the longer side (2-5 px at 512 px): focus missed or a shaky hand."""
    radius = max(image.size) * rng.uniform(0.004, 0.010)
    return _rgb(image).filter(ImageFilter.GaussianBlur(radius))


def jpeg(image: Image.Image, rng: random.Random) -> Image.Image:
    """Recompressed at quality 20-40, as messaging platforms and screenshots of screenshots do."""
    return recompressed(_rgb(image), rng.randint(20, 40))


def background(image: Image.Image, rng: random.Random) -> Image.Image:
    """The product shrunk to 50-80 % of the frame on a plain or noisy coloured background."""
    width, height = image.size
    color = _random_color(rng)
    if rng.random() < 0.5:
        canvas = Image.new("RGB", (width, height), color)
    else:
        # Not Image.effect_noise: it draws from C's rand(), which no seed of ours controls.
        noise = np.random.default_rng(rng.getrandbits(64)).normal(0, rng.uniform(15, 50), (height, width, 3))
        canvas = Image.fromarray(np.clip(np.asarray(color) + noise, 0, 255).astype(np.uint8), "RGB")
    scale = rng.uniform(0.50, 0.80)
    product = _rgb(image).resize((max(1, round(width * scale)), max(1, round(height * scale))))
    left = rng.randint(0, width - product.width)
    top = rng.randint(0, height - product.height)
    canvas.paste(product, (left, top))
    return canvas


def flip(image: Image.Image, rng: random.Random) -> Image.Image:
    """Mirrored left to right, as front cameras and some apps save photos."""
    return ImageOps.mirror(_rgb(image))


SINGLE: dict[str, Augmentation] = {
    "crop": random_crop,
    "rotate": rotation,
    "scale": rescale,
    "lighting": lighting,
    "blur": blur,
    "jpeg": jpeg,
    "background": background,
    "flip": flip,
}


def combined(image: Image.Image, rng: random.Random) -> Image.Image:
    """Two or three different single augmentations in a row, JPEG always last when it is drawn."""
    names = rng.sample(sorted(SINGLE), rng.choice((2, 3)))
    names.sort(key=lambda name: name == "jpeg")
    for name in names:
        image = SINGLE[name](image, rng)
    return image


AUGMENTATIONS: dict[str, Augmentation] = {**SINGLE, "combined": combined}


def boxes(size: tuple[int, int], count: int, largest: tuple[int, int], rng: random.Random) -> Image.Image:
    """A busy scene: `count` random coloured boxes, each at most `largest` (w, h), on a random colour."""
    canvas = Image.new("RGB", size, _random_color(rng))
    draw = ImageDraw.Draw(canvas)
    for _ in range(count):
        left, top = rng.randrange(size[0]), rng.randrange(size[1])
        box = (left, top, left + rng.randrange(10, largest[0]), top + rng.randrange(10, largest[1]))
        draw.rectangle(box, fill=_random_color(rng))
    return canvas


def busy_background(image: Image.Image, rng: random.Random) -> Image.Image:
    """The product at 45-70 % of the frame among 30 random coloured boxes, recompressed at quality 25-40."""
    width, height = image.size
    canvas = boxes((width, height), 30, (width // 3, height // 3), rng)
    scale = rng.uniform(0.45, 0.70)
    product = _rgb(image).resize((max(1, round(width * scale)), max(1, round(height * scale))))
    canvas.paste(product, (rng.randint(0, width - product.width), rng.randint(0, height - product.height)))
    return recompressed(canvas, rng.randint(25, 40))


# The three ways customers' photos differ from catalogue shots that issue 22 measures, each a stack.
CUSTOMER_PHOTOS: dict[str, Augmentation] = {
    "cropped and mirrored": lambda image, rng: flip(random_crop(image, rng), rng),
    "tilted, relit and blurred": lambda image, rng: blur(lighting(rotation(image, rng), rng), rng),
    "small on a busy background, low JPEG quality": busy_background,
}


def customer_photos(image: Image.Image, seed: int) -> list[tuple[str, Image.Image]]:
    """One photo of each kind in CUSTOMER_PHOTOS, the same for a seed."""
    return [
        (name, change(image, random.Random(seed * 1_000_003 + index)))
        for index, (name, change) in enumerate(CUSTOMER_PHOTOS.items())
    ]


def queries(image: Image.Image, seed: int, per_image: int) -> list[tuple[str, Image.Image]]:
    """`per_image` (augmentation name, query photo) pairs for one catalogue photo, the same for a seed.

    The augmentations come in an order shuffled by the seed and repeat after all have been used, so a
    small `per_image` still covers different ones for different seeds (pass one seed per photo).
    Each query has its own generator, so a query does not change when `per_image` does.
    """
    names = sorted(AUGMENTATIONS)
    random.Random(seed).shuffle(names)
    return [
        (name, AUGMENTATIONS[name](image, random.Random(seed * 1_000_003 + index)))
        for index, name in enumerate(names[i % len(names)] for i in range(per_image))
    ]


# Photographs of things the shop does not sell, shipped in bench/unsold_photos/ byte for byte as scikit-image
# and matplotlib have them (its README gives each file's origin and licence), so neither package is needed
# for them. None is a demo base photo (motorcycle_right.png is left out: it shows motorcycle_left's scene).
UNSOLD_DIR = Path(__file__).with_name("unsold_photos")
# File -> (width, height) and Pillow mode as decoded, and the SHA-256 of its bytes; the tests check them.
UNSOLD_FILES: dict[str, tuple[tuple[int, int], str, str]] = {
    "cell.png": ((550, 660), "L", "8d23a7fb81f7cc877cd09f330357fc7f595651306e84e17252f6e0a1b3f61515"),
    "color.png": ((371, 370), "RGB", "7d2df993de2b4fa2a78e04e5df8050f49a9c511aa75e59ab3bd56ac9c98aef7e"),
    "horse.png": ((400, 328), "RGBA", "c7fb60789fe394c485f842291ea3b21e50d140f39d6dcb5fb9917cc178225455"),
    "ihc.png": ((512, 512), "RGB", "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef"),
    "logo.png": ((500, 500), "RGBA", "f2c57fe8af089f08b5ba523d95573c26e62904ac5967f4c8851b27d033690168"),
    "microaneurysms.png": (
        (102, 102),
        "L",
        "a1e1be59aa447f8ce082f7fa809997ab369a2b137cb6c4202abc647c7ccf6456",
    ),
    "phantom.png": ((400, 400), "RGB", "552ff698167aa402cceb17981130607a228a0a0aa7c519299eaa4d5f301ba36c"),
    "chessboard_RGB.png": (
        (200, 200),
        "RGB",
        "1ac01eff2d4e50f4eda55a2ddecdc28a6576623a58d7a7ef84513c5cc19a0331",
    ),
    "Minduka_Present_Blue_Pack.png": (
        (128, 128),
        "RGBA",
        "5e72868826a7a4329a950e5a9efa393594807833fb7f27e5cd001a8afb9cd081",
    ),
    "logo2.png": ((542, 130), "RGBA", "0d7371e055decaac47cb6e809af3442e9c1ecd02f1c1e2d063d1cfee4b4a21d7"),
}


def unsold_photos() -> list[tuple[str, Image.Image]]:
    """(name, photo) of things not sold: the photos in UNSOLD_DIR, in UNSOLD_FILES order, and look-alikes.

    Look-alikes are the regions of the demo catalogue's base photos that no product shows: the same
    scene or texture as a product, a different object (bot/catalog/demo_images.py keeps regions apart).
    """
    from bot.catalog.demo_images import (
        REGIONS_PER_PHOTO,
        SOURCES,
        assign,
        load_base,
        region_of,
        regions,
    )
    from bot.storage.seed import load_yaml

    photos = []
    for name in UNSOLD_FILES:
        with Image.open(UNSOLD_DIR / name) as image:
            photos.append((name, image.convert("RGB")))
    bases = assign([product["sku"] for product in load_yaml("catalog.yml")["products"]])
    used = {(base, region_of(base, sku)) for sku, base in bases.items()}
    for source in SOURCES:
        for number in range(REGIONS_PER_PHOTO):
            if (source.name, number) not in used:
                box = regions(source.name)[number]
                region = load_base(source.name).crop(box).resize((512, 512), Image.Resampling.LANCZOS)
                photos.append((f"{source.name} region {number} (look-alike)", region))
    return photos
