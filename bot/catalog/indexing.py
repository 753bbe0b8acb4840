"""`bot catalog index`: embed every product photo and product text, re-embedding only what changed.

Rows are keyed by product id; image rows also by the image's sha256, text rows by a hash of the text.
A rebuild keeps the vectors of unchanged rows, embeds new ones and drops rows of deleted products or
photos. The manifest is written last, so the search service reloads only complete indexes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from bot.catalog.encoders import ImageEncoder, TextEncoder
from bot.catalog.images import ImageStore
from bot.catalog.vector_index import StoredVectors
from bot.storage.models import Product

BATCH = 16
MANIFEST = "manifest.json"


@dataclass
class IndexReport:
    """What a build did."""

    products: int = 0
    images_embedded: int = 0
    images_kept: int = 0
    texts_embedded: int = 0
    texts_kept: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        rate = self.images_embedded / self.seconds if self.seconds and self.images_embedded else 0.0
        return (
            f"{self.products} products; images: {self.images_embedded} embedded ({rate:.1f}/s), "
            f"{self.images_kept} unchanged; texts: {self.texts_embedded} embedded, "
            f"{self.texts_kept} unchanged"
        )


def product_text(product: Product) -> str:
    """What text search matches against."""
    colors = sorted({v.color for v in product.variants})
    return f"{product.title}. {product.category}. {product.description} Colours: {', '.join(colors)}."


def _text_key(text: str) -> str:
    return "text:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def wanted_rows(engine: Engine) -> tuple[list[tuple[int, str, str]], list[tuple[int, str, str]]]:
    """What the index should hold: (product id, image sha, path) and (product id, text key, text)."""
    with Session(engine) as session:
        products = session.scalars(
            select(Product).options(selectinload(Product.images), selectinload(Product.variants))
        ).all()
        images = [(p.id, img.sha256, img.path) for p in products for img in p.images]
        texts = [(p.id, _text_key(product_text(p)), product_text(p)) for p in products]
    return images, texts


def up_to_date(engine: Engine, catalog_dir: Path) -> bool:
    """Whether the index already holds exactly the current products' photos and texts (no model needed)."""
    index_dir = catalog_dir / "index"
    manifest = read_manifest(index_dir)
    if not manifest:
        return False
    images, texts = wanted_rows(engine)
    stored_images = StoredVectors.load(index_dir, "image", int(manifest["image_dim"]))
    stored_texts = StoredVectors.load(index_dir, "text", int(manifest["text_dim"]))
    return [(k, s) for k, s, _ in images] == list(
        zip(stored_images.keys.tolist(), stored_images.sources, strict=True)
    ) and [(k, s) for k, s, _ in texts] == list(
        zip(stored_texts.keys.tolist(), stored_texts.sources, strict=True)
    )


def build(
    engine: Engine,
    catalog_dir: Path,
    image_encoder: ImageEncoder,
    text_encoder: TextEncoder,
    progress: Callable[[str], None] = lambda _: None,
) -> IndexReport:
    """Bring the index in `catalog_dir/index` up to date with the database."""
    started = time.perf_counter()
    report = IndexReport()
    index_dir, store = catalog_dir / "index", ImageStore(catalog_dir / "images")
    wanted_images, wanted_texts = wanted_rows(engine)
    report.products = len(wanted_texts)

    image_rows, report.images_embedded, report.images_kept = update(
        StoredVectors.load(index_dir, "image", image_encoder.dim),
        wanted_images,
        lambda paths: image_encoder.encode_images([store.open(p) for p in paths]),
        image_encoder.dim,
        lambda done, total: progress(f"images embedded: {done}/{total}"),
    )
    text_index, report.texts_embedded, report.texts_kept = update(
        StoredVectors.load(index_dir, "text", text_encoder.dim),
        wanted_texts,
        text_encoder.encode_texts,
        text_encoder.dim,
        lambda done, total: progress(f"texts embedded: {done}/{total}"),
    )
    image_rows.save(index_dir, "image")
    text_index.save(index_dir, "text")
    report.seconds = time.perf_counter() - started
    write_manifest(index_dir, image_encoder, text_encoder, image_rows, text_index)
    return report


def update(
    old: StoredVectors,
    wanted: list[tuple[int, str, str]],
    embed: Callable[[list[str]], np.ndarray],
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
