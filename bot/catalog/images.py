"""Catalogue photos on disk, stored once per content (sha256), so re-imports never duplicate them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from bot.catalog.fetch import FetchPolicy, decode

MAX_SIDE = 1024  # stored copies are enough for embedding and cards, and stay small


@dataclass(frozen=True)
class StoredImage:
    """A stored photo."""

    path: str  # relative to the image folder
    sha256: str
    width: int
    height: int


class ImageStore:
    """Content-addressed JPEG files under one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, data: bytes, policy: FetchPolicy | None = None) -> StoredImage:
        """Check, normalise (RGB, at most 1024 px) and store image bytes; the same bytes store once."""
        sha = hashlib.sha256(data).hexdigest()
        relative = f"{sha[:2]}/{sha}.jpg"
        target = self.folder / relative
        if target.exists():
            with Image.open(target) as existing:
                return StoredImage(relative, sha, *existing.size)
        image = decode(data, policy or FetchPolicy())
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        image.save(tmp, "JPEG", quality=90)
        tmp.replace(target)
        return StoredImage(relative, sha, image.width, image.height)

    def open(self, relative: str) -> Image.Image:
        """A stored photo, decoded."""
        with Image.open(self.folder / relative) as image:
            return image.convert("RGB")
