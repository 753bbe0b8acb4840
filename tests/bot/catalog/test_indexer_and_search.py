"""Indexing the catalogue and searching it by photo and by text, with the real models."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.photo_queries import queries
from bot.catalog.images import ImageStore
from bot.catalog.indexing import build, up_to_date
from bot.catalog.product_search import ProductSearch
from bot.catalog.vector_search import CatalogSearch
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import Product, ProductImage


def test_index_is_incremental_and_search_reloads_it(shop, image_model, text_model):
    engine, catalog_dir, _ = shop
    assert not up_to_date(engine, catalog_dir)
    first = build(engine, catalog_dir, image_model, text_model)
    assert (first.products, first.images_embedded, first.texts_embedded) == (38, 90, 38)
    assert up_to_date(engine, catalog_dir)
    again = build(engine, catalog_dir, image_model, text_model)
    assert (again.images_embedded, again.images_kept, again.texts_embedded) == (0, 90, 0)

    search = CatalogSearch(catalog_dir, lambda: image_model, lambda: text_model)
    version = search.index().manifest["version"]
    with Session(engine) as session, session.begin():
        product = session.scalar(select(Product).where(Product.sku == "HOM-003"))
        product.description = "Hand-glazed stoneware vase, now in a taller shape."
        session.delete(product.images[-1])
    third = build(engine, catalog_dir, image_model, text_model)
    assert (third.images_embedded, third.texts_embedded, third.images_kept) == (0, 1, 89)
    assert search.index().manifest["version"] == version + 1 and search.index().image_rows == 89


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


def test_text_search_with_colour_size_and_stock_filters(shop, image_model, text_model):
    engine, catalog_dir, url = shop
    build(engine, catalog_dir, image_model, text_model)

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
