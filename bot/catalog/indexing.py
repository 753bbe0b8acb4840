"""`bot catalog index`: embed every product photo and product text, re-embedding only what changed.

Rows are keyed by product id; image rows also by the image's sha256 and view ("<sha256>" for the photo,
"<sha256>#blur" for its blurred view, see bot/catalog/views.py), text rows by a hash of the text. Every
photo's local features (SIFT keypoints, for geometric verification) are stored beside the vectors,
keyed the same way. A rebuild keeps what is unchanged, computes what is new and drops rows of deleted
products, photos or views. The manifest is written last, so the search service reloads only complete
indexes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from bot.catalog import local_features
from bot.catalog.encoders import ImageEncoder, TextEncoder
from bot.catalog.images import ImageStore
from bot.catalog.local_features import StoredFeatures
from bot.catalog.photo_config import PhotoConfig
from bot.catalog.vector_index import StoredVectors
from bot.catalog.views import source_of, view
from bot.storage.models import Product

Payload = TypeVar("Payload")
BATCH = 16
MANIFEST = "manifest.json"
FEATURES = "local"  # local.points.npy, local.descriptors.npy, local.json


@dataclass
class IndexReport:
    """What a build did."""

    products: int = 0
    images_embedded: int = 0
    images_kept: int = 0
    texts_embedded: int = 0
    texts_kept: int = 0
    features_extracted: int = 0
    features_kept: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        rate = self.images_embedded / self.seconds if self.seconds and self.images_embedded else 0.0
        return (
            f"{self.products} products; image views: {self.images_embedded} embedded ({rate:.1f}/s), "
            f"{self.images_kept} unchanged; local features: {self.features_extracted} extracted, "
            f"{self.features_kept} unchanged; texts: {self.texts_embedded} embedded, "
            f"{self.texts_kept} unchanged"
        )


def product_text(product: Product) -> str:
    """What text search matches against."""
    colors = sorted({v.color for v in product.variants})
    return f"{product.title}. {product.category}. {product.description} Colours: {', '.join(colors)}."


def _text_key(text: str) -> str:
    return "text:" + hashlib.sha256(text.encode()).hexdigest()[:16]


ImageRow = tuple[int, str, tuple[str, str | None]]  # product id, source, (stored path, view)
TextRow = tuple[int, str, str]  # product id, text key, text


@dataclass(frozen=True)
class Wanted:
    """What the index should hold for the catalogue as it is now."""

    images: list[ImageRow]  # every photo and each of its extra views, for the embedding
    features: list[ImageRow]  # every photo and its feature views, for geometric verification
    texts: list[TextRow]


def wanted_rows(engine: Engine, config: PhotoConfig | None = None) -> Wanted:
    """The rows the index should have, from the database and photos.yml's `index:` settings."""
    config = config or PhotoConfig.load()
    with Session(engine) as session:
        products = session.scalars(
            select(Product).options(selectinload(Product.images), selectinload(Product.variants))
        ).all()
        photos = [(p.id, img.sha256, img.path) for p in products for img in p.images]
        texts = [(p.id, _text_key(product_text(p)), product_text(p)) for p in products]

    def rows(views: tuple[str, ...]) -> list[ImageRow]:
        return [
            (product_id, source_of(sha, name), (path, name))
            for product_id, sha, path in photos
            for name in (None, *views)
        ]

    return Wanted(rows(config.views), rows(config.feature_views), texts)


def up_to_date(engine: Engine, catalog_dir: Path, config: PhotoConfig | None = None) -> bool:
    """Whether the index holds exactly the current photos, views, features and texts (no model needed)."""
    index_dir = catalog_dir / "index"
    manifest = read_manifest(index_dir)
    if not manifest:
        return False
    wanted = wanted_rows(engine, config)
    stored_images = StoredVectors.load(index_dir, "image", int(manifest["image_dim"]))
    stored_texts = StoredVectors.load(index_dir, "text", int(manifest["text_dim"]))
    stored_features = StoredFeatures.load(index_dir, FEATURES)
    return (
        [(k, s) for k, s, _ in wanted.images]
        == list(zip(stored_images.keys.tolist(), stored_images.sources, strict=True))
        and [(k, s) for k, s, _ in wanted.texts]
        == list(zip(stored_texts.keys.tolist(), stored_texts.sources, strict=True))
        and list(dict.fromkeys(s for _, s, _ in wanted.features)) == stored_features.sources
    )


def build(
    engine: Engine,
    catalog_dir: Path,
    image_encoder: ImageEncoder,
    text_encoder: TextEncoder,
    progress: Callable[[str], None] = lambda _: None,
    config: PhotoConfig | None = None,
) -> IndexReport:
    """Bring the index in `catalog_dir/index` up to date with the database."""
    started = time.perf_counter()
    report = IndexReport()
    index_dir, store = catalog_dir / "index", ImageStore(catalog_dir / "images")
    wanted = wanted_rows(engine, config)
    report.products = len(wanted.texts)

    def views(payloads: list[tuple[str, str | None]]) -> list[Image.Image]:
        return [view(store.open(path), name) for path, name in payloads]

    image_rows, report.images_embedded, report.images_kept = update(
        StoredVectors.load(index_dir, "image", image_encoder.dim),
        wanted.images,
        lambda payloads: image_encoder.encode_images(views(payloads)),
        image_encoder.dim,
        by_tenths("image views embedded", progress),
    )
    features, report.features_extracted, report.features_kept = update_features(
        StoredFeatures.load(index_dir, FEATURES),
        wanted.features,
        views,
        by_tenths("photos' local features extracted", progress),
    )
    text_index, report.texts_embedded, report.texts_kept = update(
        StoredVectors.load(index_dir, "text", text_encoder.dim),
        wanted.texts,
        text_encoder.encode_texts,
        text_encoder.dim,
        by_tenths("texts embedded", progress),
    )
    image_rows.save(index_dir, "image")
    features.save(index_dir, FEATURES)
    text_index.save(index_dir, "text")
    report.seconds = time.perf_counter() - started
    write_manifest(index_dir, image_encoder, text_encoder, image_rows, text_index)
    return report


def by_tenths(what: str, progress: Callable[[str], None]) -> Callable[[int, int], None]:
    """A (done, total) reporter that says `what: done/total (percent)` at the start, then each tenth."""
    said = -1

    def report(done: int, total: int) -> None:
        nonlocal said
        tenth = 10 * done // total if total else 10
        if tenth > said:
            said = tenth
            progress(f"{what}: {done}/{total} ({100 * done // max(total, 1)}%)")

    return report


def update(
    old: StoredVectors,
    wanted: Sequence[tuple[int, str, Payload]],
    embed: Callable[[list[Payload]], np.ndarray],
    dim: int,
    progress: Callable[[int, int], None],
) -> tuple[StoredVectors, int, int]:
    """Rows for `wanted` (key, source, payload), embedding only what the old rows lack.

    Returns the rows, how many were embedded and how many kept.
    """
    known = {(int(k), src): i for i, (k, src) in enumerate(zip(old.keys, old.sources, strict=True))}
    vectors: list[np.ndarray | None] = [
        old.vectors[known[(key, source)]] if (key, source) in known else None for key, source, _ in wanted
    ]
    todo = [i for i, vector in enumerate(vectors) if vector is None]
    if todo:
        progress(0, len(todo))
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        for i, vector in zip(batch, embed([wanted[i][2] for i in batch]), strict=True):
            vectors[i] = vector
        progress(min(start + BATCH, len(todo)), len(todo))
    rows = StoredVectors(
        _stack([v for v in vectors if v is not None], dim),
        np.asarray([key for key, _, _ in wanted], dtype=np.int64),
        [source for _, source, _ in wanted],
    )
    return rows, len(todo), len(wanted) - len(todo)


def update_features(
    old: StoredFeatures,
    wanted: list[ImageRow],
    images: Callable[[list[tuple[str, str | None]]], list[Image.Image]],
    progress: Callable[[int, int], None],
) -> tuple[StoredFeatures, int, int]:
    """Local features for `wanted` (one entry per source), extracting only what `old` lacks."""
    known = old.positions()
    unique = list(dict.fromkeys((source, payload) for _, source, payload in wanted))
    todo = [(source, payload) for source, payload in unique if source not in known]
    fresh: dict[str, local_features.Features] = {}
    if todo:
        progress(0, len(todo))
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        for (source, _), image in zip(batch, images([payload for _, payload in batch]), strict=True):
            fresh[source] = local_features.extract(image)
        progress(min(start + BATCH, len(todo)), len(todo))
    items = [(source, fresh[source] if source in fresh else old.get(known[source])) for source, _ in unique]
    return StoredFeatures.of(items), len(todo), len(unique) - len(todo)


def _stack(rows: list[np.ndarray], dim: int) -> np.ndarray:
    return np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), dtype=np.float32)


def write_manifest(
    index_dir: Path,
    image_encoder: ImageEncoder,
    text_encoder: TextEncoder,
    images: StoredVectors,
    texts: StoredVectors,
) -> None:
    """The index's description, written last (atomically): its change tells readers to reload."""
    previous = read_manifest(index_dir)
    manifest = {
        "version": int(previous.get("version", 0)) + 1,
        "built_at": time.time(),
        "image_encoder": image_encoder.name,
        "image_dim": image_encoder.dim,
        "text_encoder": text_encoder.name,
        "text_dim": text_encoder.dim,
        "image_rows": len(images.keys),
        "text_rows": len(texts.keys),
    }
    tmp = index_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    tmp.replace(index_dir / MANIFEST)


def read_manifest(index_dir: Path) -> dict:
    """The current manifest, or {} when there is no index yet."""
    try:
        return json.loads((index_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
