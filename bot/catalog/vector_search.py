"""Product search by photo and by text, over the index that `bot catalog index` writes.

The service loads the index on first use and again whenever the manifest changes (a new build), so
indexing never needs a restart.

A photo is found in two steps, the way instance-retrieval systems do it. The global embedding proposes
candidates: the nearest image rows (every catalogue photo and its extra views), grouped by product, best
row counting. Then each candidate's catalogue photos are matched with the photo's local features
(and its mirror image's) and verified geometrically (`bot/catalog/local_features.py`). The embedding
similarity and the inlier count give each candidate a calibrated confidence (photos.yml); candidates
are ranked by it, and it decides between one product, "is it one of these?" and "could not find it".

A text query is embedded with MiniLM and filtered by colour, size and stock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from bot.catalog import local_features
from bot.catalog.encoders import ImageEncoder, TextEncoder, image_encoder, text_encoder
from bot.catalog.indexing import FEATURES, MANIFEST, read_manifest
from bot.catalog.local_features import Features, StoredFeatures
from bot.catalog.photo_config import PhotoConfig
from bot.catalog.vector_index import StoredVectors, VectorIndex, build_index
from bot.catalog.views import photo_of

NEIGHBOURS = 100  # image rows the embedding search returns, grouped into candidate products
PHOTOS_VERIFIED = 3  # of a candidate's catalogue photos, the closest this many are verified
MAX_CARDS = 5


@dataclass(frozen=True)
class Match:
    """A product, how similar its best photo is (cosine), its verification and the confidence from both."""

    product_id: int
    score: float
    inliers: int = 0
    confidence: float = 0.0
    photos: tuple[str, ...] = ()  # its catalogue photos (sha256), closest first


@dataclass(frozen=True)
class PhotoVerdict:
    """What to tell a customer about their photo."""

    kind: str  # "confident" | "several" | "none"
    matches: tuple[Match, ...]


def verdict(matches: Sequence[Match], config: PhotoConfig | None = None) -> PhotoVerdict:
    """One product the photo surely shows, a few it may show, or nothing likely (by calibrated confidence)."""
    config = config or PhotoConfig()
    ranked = sorted(matches, key=lambda m: -m.confidence)
    if not ranked or ranked[0].confidence < config.show_several:
        return PhotoVerdict("none", ())
    runner_up = ranked[1].confidence if len(ranked) > 1 else 0.0
    if ranked[0].confidence >= config.show_one and runner_up < config.runner_up_below:
        return PhotoVerdict("confident", (ranked[0],))
    return PhotoVerdict("several", tuple(ranked[:MAX_CARDS]))


def candidates(hits: Sequence[tuple[int, str, float]], limit: int) -> list[Match]:
    """(product id, row source, cosine) rows grouped into products, best first, with their photos in order."""
    best: dict[int, float] = {}
    photos: dict[int, dict[str, None]] = {}
    for key, source, score in sorted(hits, key=lambda hit: -hit[2]):
        best.setdefault(key, score)
        photos.setdefault(key, {})[photo_of(source)] = None
    ranked = sorted(best, key=lambda key: -best[key])[:limit]
    return [Match(key, best[key], photos=tuple(photos[key])) for key in ranked]


class LoadedIndex:
    """One version of the on-disk index, in memory (local features memory-mapped)."""

    def __init__(self, folder: Path, manifest: dict) -> None:
        self.manifest = manifest
        images = StoredVectors.load(folder, "image", int(manifest.get("image_dim", 1280)))
        texts = StoredVectors.load(folder, "text", int(manifest.get("text_dim", 384)))
        self.images: VectorIndex = build_index(images.vectors, images.keys)
        self.image_sources = images.sources
        self.texts: VectorIndex = build_index(texts.vectors, texts.keys, kind="exact")
        self.image_rows = len(images.keys)
        self.features = StoredFeatures.load(folder, FEATURES)
        self._feature_sets: dict[str, list[int]] = {}  # photo sha256 -> its feature sets (photo, views)
        for number, source in enumerate(self.features.sources):
            self._feature_sets.setdefault(photo_of(source), []).append(number)

    def features_of(self, photo: str) -> list[Features]:
        """A catalogue photo's local features, and those of its feature views."""
        return [self.features.get(n) for n in self._feature_sets.get(photo, [])]

    def verify(self, query: tuple[Features, Features], match: Match) -> int:
        """The best inlier count of the photo (or its mirror image) against the product's closest photos."""
        sets = [f for photo in match.photos[:PHOTOS_VERIFIED] for f in self.features_of(photo)]
        return local_features.best_inliers(query, sets)


class CatalogSearch:
    """Photo and text search; encoders load lazily, the index reloads when rebuilt."""

    def __init__(
        self,
        catalog_dir: Path,
        images: Callable[[], ImageEncoder] = image_encoder,
        texts: Callable[[], TextEncoder] = text_encoder,
        config: Callable[[], PhotoConfig] = PhotoConfig.load,
    ) -> None:
        self.index_dir = catalog_dir / "index"
        self.config = config  # photos.yml as it is now (the action server passes its watched file)
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

    def by_image(self, image: Image.Image, limit: int = 5, config: PhotoConfig | None = None) -> list[Match]:
        """Products most likely shown in `image`, most likely first (embedding, then verification)."""
        loaded = self.index()
        if loaded is None or loaded.image_rows == 0:
            return []
        config = config or self.config()
        vector = self.image_encoder().encode_images([image])[0]
        hits = loaded.images.search(vector, NEIGHBOURS)
        proposed = candidates(
            [(h.key, loaded.image_sources[h.row], h.score) for h in hits], config.candidates
        )
        query = local_features.extract_both(image)
        verified = []
        for match in proposed:
            inliers = loaded.verify(query, match)
            verified.append(
                replace(match, inliers=inliers, confidence=config.confidence.of(match.score, inliers))
            )
        return sorted(verified, key=lambda m: (-m.confidence, -m.score))[:limit]

    def by_text(self, query: str, limit: int = 5, allowed: set[int] | None = None) -> list[Match]:
        """Products whose text is closest to `query`, optionally only among `allowed` product ids."""
        loaded = self.index()
        if loaded is None or not query.strip():
            return []
        vector = self.text_encoder().encode_texts([query])[0]
        hits = loaded.texts.search(vector, 10_000)
        matches = [Match(h.key, h.score) for h in hits if allowed is None or h.key in allowed]
        return matches[:limit]
