"""Indexing the catalogue and searching it by photo and by text, with the real models."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.photo_queries import customer_photos, queries, unsold_photos
from bot.catalog.encoders import normalise_rows
from bot.catalog.images import ImageStore
from bot.catalog.indexing import build, up_to_date
from bot.catalog.photo_config import PhotoConfig
from bot.catalog.product_search import ProductSearch
from bot.catalog.vector_search import CatalogSearch, verdict
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import Product, ProductImage

pytestmark = pytest.mark.slow


def test_index_is_incremental_and_search_reloads_it(shop, image_model, text_model):
    engine, catalog_dir, _ = shop
    assert not up_to_date(engine, catalog_dir)
    first = build(engine, catalog_dir, image_model, text_model)
    # 90 photos, each with photos.yml's 5 extra views; local features of each photo and its blurred view.
    assert (first.products, first.images_embedded, first.texts_embedded) == (38, 540, 38)
    assert (first.features_extracted, first.features_kept) == (180, 0)
    assert up_to_date(engine, catalog_dir)
    again = build(engine, catalog_dir, image_model, text_model)
    assert (again.images_embedded, again.images_kept, again.texts_embedded) == (0, 540, 0)
    assert (again.features_extracted, again.features_kept) == (0, 180)

    search = CatalogSearch(catalog_dir, lambda: image_model, lambda: text_model)
    version = search.index().manifest["version"]
    with Session(engine) as session, session.begin():
        product = session.scalar(select(Product).where(Product.sku == "HOM-003"))
        product.description = "Hand-glazed stoneware vase, now in a taller shape."
        session.delete(product.images[-1])
    third = build(engine, catalog_dir, image_model, text_model)
    assert (third.images_embedded, third.texts_embedded, third.images_kept) == (0, 1, 534)
    assert (third.features_extracted, third.features_kept) == (0, 178)
    loaded = search.index()
    assert loaded.manifest["version"] == version + 1 and loaded.image_rows == 534
    assert len(loaded.features.sources) == 178

    # Fewer views in photos.yml: their rows go at the next build, nothing is embedded again.
    fewer = PhotoConfig(views=("mirror",), feature_views=())
    assert not up_to_date(engine, catalog_dir, fewer)
    fourth = build(engine, catalog_dir, image_model, text_model, config=fewer)
    assert (fourth.images_embedded, fourth.images_kept, fourth.features_kept) == (0, 178, 89)
    assert up_to_date(engine, catalog_dir, fewer) and not up_to_date(engine, catalog_dir)


def test_a_changed_photo_of_a_product_finds_the_product(shop, image_model, text_model):
    engine, catalog_dir, _ = shop
    build(engine, catalog_dir, image_model, text_model)
    search = CatalogSearch(catalog_dir, lambda: image_model, lambda: text_model)
    store = ImageStore(catalog_dir / "images")
    with Session(engine) as session:
        photos = [
            (i.product_id, i.path) for i in session.scalars(select(ProductImage).order_by(ProductImage.id))
        ][::9]
    hits = 0
    for number, (product_id, path) in enumerate(photos):
        _, query = queries(store.open(path), seed=number, per_image=1)[0]
        hits += search.by_image(query)[0].product_id == product_id
    assert hits / len(photos) >= 0.8


class LookAlike:
    """An image encoder to which every photo looks the same: only verification can tell products apart."""

    name, dim = "look-alike", 8

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        return normalise_rows(np.ones((len(images), self.dim), dtype=np.float32))


def test_verification_alone_picks_the_product_in_a_changed_photo(shop, text_model):
    engine, catalog_dir, _ = shop
    plain = PhotoConfig(views=(), feature_views=("blur",), candidates=38)  # 90 rows: all are candidates
    build(engine, catalog_dir, LookAlike(), text_model, config=plain)
    search = CatalogSearch(catalog_dir, LookAlike, lambda: text_model, lambda: plain)
    store = ImageStore(catalog_dir / "images")
    with Session(engine) as session:
        photos = [
            (i.product_id, i.path) for i in session.scalars(select(ProductImage).order_by(ProductImage.id))
        ]
    right = 0
    for number, (product_id, path) in enumerate(photos[::6]):
        _, changed = customer_photos(store.open(path), seed=number)[number % 2]  # cropped/mirrored or tilted
        best = search.by_image(changed)[0]
        right += best.product_id == product_id and best.inliers >= 10
    assert right >= 0.9 * len(photos[::6]), (right, len(photos[::6]))


def test_customer_photos_find_their_product_and_unsold_things_get_no_product_card(
    shop, image_model, text_model
):
    engine, catalog_dir, _ = shop
    build(engine, catalog_dir, image_model, text_model)
    config = PhotoConfig.load()
    search = CatalogSearch(catalog_dir, lambda: image_model, lambda: text_model, lambda: config)
    store = ImageStore(catalog_dir / "images")
    with Session(engine) as session:
        photos = [
            (i.product_id, i.path) for i in session.scalars(select(ProductImage).order_by(ProductImage.id))
        ]
    firsts, wrong_cards = [], []
    for number, (product_id, path) in enumerate(photos[::5]):
        for kind, changed in customer_photos(store.open(path), seed=7 + number):
            matches = search.by_image(changed, 10)
            firsts.append(matches[0].product_id == product_id)
            judged = verdict(matches, config)
            if judged.kind == "confident" and judged.matches[0].product_id != product_id:
                wrong_cards.append((path, kind))
    assert sum(firsts) >= 0.9 * len(firsts), f"{sum(firsts)} of {len(firsts)} right first"
    assert not wrong_cards
    unsold = [(name, verdict(search.by_image(photo, 10), config).kind) for name, photo in unsold_photos()]
    assert sum(kind == "confident" for _, kind in unsold) <= 1, unsold
    assert sum(kind == "none" for _, kind in unsold) >= 0.75 * len(unsold), unsold


def test_text_search_with_colour_size_and_stock_filters(shop, image_model, text_model):
    engine, catalog_dir, url = shop
    build(engine, catalog_dir, image_model, text_model, config=PhotoConfig(views=(), feature_views=()))

    async def run(query: str) -> list[str]:
        database = Database(url)
        try:
            search = ProductSearch(
                Settings(database_url=url),
                database,
                CatalogSearch(catalog_dir, lambda: image_model, lambda: text_model),
            )
            return [r.product.title for r in await search.text(query)]
        finally:
            await database.close()

    assert asyncio.run(run("linen shirt in navy size L"))[0] == "Linen Shirt"
    assert {"Wool Throw Blanket", "Linen Duvet Cover"} & set(
        asyncio.run(run("something cosy to sleep under"))[:3]
    )
    leather = asyncio.run(run("brown leather boots size 39 in stock"))
    assert "Chelsea Boots" not in leather  # brown 39 is sold out
    burgundy = asyncio.run(run("a trench coat in burgundy"))
    assert burgundy and "Trench Coat" not in burgundy  # it comes in camel and black only
