"""Product search by photo and by text, over the index that `bot catalog index` writes.

The service loads the index on first use and again whenever the manifest changes (a new build), so
indexing never needs a restart. A photo's nearest image rows are grouped by product (best image
counts); a text query is embedded with MiniLM and filtered by colour, size and stock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from bot.catalog.encoders import ImageEncoder, TextEncoder, image_encoder, text_encoder
from bot.catalog.indexing import MANIFEST, read_manifest
from bot.catalog.vector_index import StoredVectors, VectorIndex, build_index

# Cosine similarity of EfficientNet-Lite0 features (calibrated in bench/photo_search.py).
CONFIDENT = 0.72
POSSIBLE = 0.62
CLEAR_MARGIN = 0.08
NEIGHBOURS = 50


@dataclass(frozen=True)
class Match:
    """A product and how similar it is to the query (cosine, higher is closer)."""

    product_id: int
    score: float


@dataclass(frozen=True)
class PhotoVerdict:
    """What to tell a customer about their photo."""

    kind: str  # "confident" | "several" | "none"
    matches: tuple[Match, ...]


def verdict(
    matches: Sequence[Match], confident: float = CONFIDENT, possible: float = POSSIBLE
) -> PhotoVerdict:
    """One clear match, a few close ones, or nothing close enough."""
    close = tuple(m for m in matches if m.score >= possible)[:5]
    if not close:
        return PhotoVerdict("none", ())
    best = close[0]
    runner_up = close[1].score if len(close) > 1 else 0.0
    if best.score >= confident and best.score - runner_up >= CLEAR_MARGIN:
        return PhotoVerdict("confident", (best,))
    return PhotoVerdict("several", close)


def group_by_product(hits: Sequence[tuple[int, float]], limit: int) -> list[Match]:
    """Best score per product, best first."""
    best: dict[int, float] = {}
    for key, score in hits:
        best[key] = max(score, best.get(key, -1.0))
    return [Match(k, s) for k, s in sorted(best.items(), key=lambda item: -item[1])[:limit]]


class LoadedIndex:
    """One version of the on-disk index, in memory."""

    def __init__(self, folder: Path, manifest: dict) -> None:
        self.manifest = manifest
        images = StoredVectors.load(folder, "image", int(manifest.get("image_dim", 1280)))
        texts = StoredVectors.load(folder, "text", int(manifest.get("text_dim", 384)))
        self.images: VectorIndex = build_index(images.vectors, images.keys)
        self.texts: VectorIndex = build_index(texts.vectors, texts.keys, kind="exact")
        self.image_rows = len(images.keys)


class CatalogSearch:
    """Photo and text search; encoders load lazily, the index reloads when rebuilt."""

    def __init__(
        self,
        catalog_dir: Path,
        images: Callable[[], ImageEncoder] = image_encoder,
        texts: Callable[[], TextEncoder] = text_encoder,
    ) -> None:
        self.index_dir = catalog_dir / "index"
        self._make_image_encoder = images
        self._make_text_encoder = texts
        self._image_encoder: ImageEncoder | None = None
        self._text_encoder: TextEncoder | None = None
        self._loaded: LoadedIndex | None = None
        self._loaded_mtime = 0.0
        self._lock = threading.Lock()

    def index(self) -> LoadedIndex | None:
        """The current index (reloaded if the manifest changed since), or None if never built."""
        try:
            mtime = (self.index_dir / MANIFEST).stat().st_mtime
        except OSError:
            return None
        with self._lock:
            if self._loaded is None or mtime != self._loaded_mtime:
                self._loaded = LoadedIndex(self.index_dir, read_manifest(self.index_dir))
                self._loaded_mtime = mtime
            return self._loaded

    def image_encoder(self) -> ImageEncoder:
        """Loaded on first use (torch start-up is not free)."""
        if self._image_encoder is None:
            self._image_encoder = self._make_image_encoder()
        return self._image_encoder

    def text_encoder(self) -> TextEncoder:
        """Loaded on first use."""
        if self._text_encoder is None:
            self._text_encoder = self._make_text_encoder()
        return self._text_encoder

    def by_image(self, image: Image.Image, limit: int = 5) -> list[Match]:
        """Products whose photos look most like `image`."""
        loaded = self.index()
        if loaded is None or loaded.image_rows == 0:
            return []
        query = self.image_encoder().encode_images([image])[0]
        hits = loaded.images.search(query, NEIGHBOURS)
        return group_by_product([(h.key, h.score) for h in hits], limit)

    def by_text(self, query: str, limit: int = 5, allowed: set[int] | None = None) -> list[Match]:
        """Products whose text is closest to `query`, optionally only among `allowed` product ids."""
        loaded = self.index()
        if loaded is None or not query.strip():
            return []
        vector = self.text_encoder().encode_texts([query])[0]
        hits = loaded.texts.search(vector, 10_000)
        matches = [Match(h.key, h.score) for h in hits if allowed is None or h.key in allowed]
        return matches[:limit]
