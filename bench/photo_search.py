"""Photo search benchmark: recall, confidence levels, unsold items and latency, through the real search.

The demo shop is seeded into a scratch SQLite database and indexed by `bot catalog index`'s own code
(photos.yml's views and local features). Queries are every catalogue photo changed in the three ways
customers' photos differ from catalogue shots (bench/photo_queries.py `CUSTOMER_PHOTOS`), searched with
`CatalogSearch.by_image` and judged by `verdict`, as the photo action does. Photos of things the shop
does not sell (package sample photos and unused regions of the catalogue's own base photos), changed the
same ways, measure confident false matches.

`--calibrate` fits photos.yml's confidence weights on a separate draw of queries (other seeds) and
prints them with the lowest "show one product" level whose precision is at least 0.99 there; the
evaluation never sees those queries. Latency is per photo (embedding, neighbour search, verification)
on the demo index and on indexes padded to 1k and 100k products. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.photo_queries import CUSTOMER_PHOTOS, customer_photos, unsold_photos
from bench.stats import percentile
from bot.catalog.encoders import EfficientNetLiteEncoder, normalise_rows, text_encoder
from bot.catalog.images import ImageStore
from bot.catalog.indexing import FEATURES, build, write_manifest
from bot.catalog.local_features import StoredFeatures
from bot.catalog.photo_config import Confidence, PhotoConfig
from bot.catalog.vector_index import ExactIndex, StoredVectors
from bot.catalog.vector_search import CatalogSearch, Match, verdict
from bot.catalog.views import photo_of
from bot.storage import migrate
from bot.storage.db import create_sync_engine
from bot.storage.models import ProductImage
from bot.storage.seed import seed

ROOT = Path(__file__).resolve().parent.parent
EVALUATION_SEED, CALIBRATION_SEED = 0, 10_000
PRECISION_GOAL = 0.99  # calibration picks the lowest show_one level with at least this precision


@dataclass(frozen=True)
class Query:
    """A changed photo, what it shows (None: something not sold) and how it was changed."""

    kind: str
    truth: int | None
    photo: Image.Image


@dataclass(frozen=True)
class Answer:
    """What search made of a query: verified candidates and the embedding's own ranking without views."""

    query: Query
    matches: list[Match]
    plain_ranking: list[int]
    seconds: float


@contextmanager
def demo_shop(encoder: EfficientNetLiteEncoder, config: PhotoConfig) -> Iterator[tuple[CatalogSearch, list]]:
    """The seeded, indexed demo shop: its search and its catalogue photos as (product id, photo)."""
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/shop.db"
        migrate.upgrade(url)
        engine = create_sync_engine(url)
        catalog_dir = Path(scratch) / "catalog"
        seed(engine, catalog_dir=catalog_dir)
        texts = text_encoder()
        started = time.perf_counter()
        report = build(engine, catalog_dir, encoder, texts, config=config)
        print(f"index: {report} in {time.perf_counter() - started:.1f} s")
        store = ImageStore(catalog_dir / "images")
        with Session(engine) as session:
            rows = session.scalars(select(ProductImage).order_by(ProductImage.id)).all()
            photos = [(row.product_id, store.open(row.path)) for row in rows]
        engine.dispose()
        yield CatalogSearch(catalog_dir, lambda: encoder, lambda: texts, lambda: config), photos


def make_queries(photos: list[tuple[int, Image.Image]], seed: int, per_photo: int) -> list[Query]:
    """Each catalogue photo changed each customer way `per_photo` times, and the unsold photos likewise."""
    queries = [
        Query(kind, product_id, changed)
        for number, (product_id, photo) in enumerate(photos)
        for repeat in range(per_photo)
        for kind, changed in customer_photos(photo, seed + number * 31 + repeat)
    ]
    unsold = [
        Query(f"unsold: {kind}", None, changed)
        for number, (_, photo) in enumerate(unsold_photos())
        for repeat in range(per_photo)
        for kind, changed in customer_photos(photo, seed + 50_000 + number * 31 + repeat)
    ]
    return queries + unsold


def answer(search: CatalogSearch, queries: list[Query], config: PhotoConfig) -> list[Answer]:
    """Search every query, timing each, with the plain-embedding ranking for comparison."""
    loaded = search.index()
    assert loaded is not None
    plain = [i for i, source in enumerate(loaded.image_sources) if "#" not in source]
    stored = StoredVectors.load(search.index_dir, "image", int(loaded.manifest["image_dim"]))
    baseline = ExactIndex(stored.vectors[plain], stored.keys[plain])
    answers = []
    for query in queries:
        started = time.perf_counter()
        matches = search.by_image(query.photo, 10, config)
        seconds = time.perf_counter() - started
        vector = search.image_encoder().encode_images([query.photo])[0]
        ranking = list(dict.fromkeys(h.key for h in baseline.search(vector, 50)))
        answers.append(Answer(query, matches, ranking, seconds))
    return answers


def share(values: list[bool]) -> float:
    return round(sum(values) / len(values), 4) if values else float("nan")


def summary(answers: list[Answer], config: PhotoConfig) -> dict:
    """Recall, the three levels' precision and shares, by kind of change, and the unsold photos' fate."""
    sold = [a for a in answers if a.query.truth is not None]
    unsold = [a for a in answers if a.query.truth is None]
    judged = {id(a): verdict(a.matches, config) for a in answers}

    def recall(group: list[Answer]) -> dict:
        return {
            "queries": len(group),
            "plain_embedding_recall_at_1": share([a.plain_ranking[:1] == [a.query.truth] for a in group]),
            "plain_embedding_recall_at_5": share([a.query.truth in a.plain_ranking[:5] for a in group]),
            "recall_at_1": share(
                [bool(a.matches) and a.matches[0].product_id == a.query.truth for a in group]
            ),
            "recall_at_5": share([a.query.truth in [m.product_id for m in a.matches[:5]] for a in group]),
        }

    def levels(group: list[Answer]) -> dict:
        one = [a for a in group if judged[id(a)].kind == "confident"]
        several = [a for a in group if judged[id(a)].kind == "several"]
        return {
            "one_product_share": share([judged[id(a)].kind == "confident" for a in group]),
            "one_product_precision": share(
                [judged[id(a)].matches[0].product_id == a.query.truth for a in one]
            ),
            "several_share": share([judged[id(a)].kind == "several" for a in group]),
            "several_holding_it": share(
                [a.query.truth in [m.product_id for m in judged[id(a)].matches] for a in several]
            ),
            "none_share": share([judged[id(a)].kind == "none" for a in group]),
        }

    by_kind = {
        kind: {**recall(group), **levels(group)}
        for kind in CUSTOMER_PHOTOS
        if (group := [a for a in sold if a.query.kind == kind])
    }
    kinds = [judged[id(a)].kind for a in unsold]
    return {
        "sold": {**recall(sold), **levels(sold)},
        "by_kind": by_kind,
        "unsold": {
            "queries": len(unsold),
            "one_product": kinds.count("confident"),
            "several": kinds.count("several"),
            "none": kinds.count("none"),
            "confident_false_match_rate": share([k == "confident" for k in kinds]),
        },
        "latency_ms": {
            "p50": round(percentile([a.seconds for a in answers], 50) * 1000, 1),
            "p95": round(percentile([a.seconds for a in answers], 95) * 1000, 1),
        },
    }


def calibrate(answers: list[Answer], config: PhotoConfig) -> tuple[Confidence, float]:
    """Logistic weights for (cosine, ln(1 + inliers)) over every candidate, then the show_one level."""
    from sklearn.linear_model import LogisticRegression

    rows = [
        (m.score, math.log1p(m.inliers), m.product_id == a.query.truth) for a in answers for m in a.matches
    ]
    features = np.asarray([(cosine, inliers) for cosine, inliers, _ in rows])
    labels = np.asarray([label for _, _, label in rows])
    model = LogisticRegression(C=10.0, max_iter=1000).fit(features, labels)
    weights = Confidence(
        bias=round(float(model.intercept_[0]), 3),
        cosine=round(float(model.coef_[0][0]), 3),
        inliers=round(float(model.coef_[0][1]), 3),
    )
    rescored = [
        replace(a, matches=[replace(m, confidence=weights.of(m.score, m.inliers)) for m in a.matches])
        for a in answers
    ]
    for level in np.arange(0.50, 1.0, 0.01):
        trial = replace(config, confidence=weights, show_one=float(level))
        shown = [(a, verdict(a.matches, trial)) for a in rescored]
        one = [
            judged.matches[0].product_id == a.query.truth for a, judged in shown if judged.kind == "confident"
        ]
        if one and sum(one) / len(one) >= PRECISION_GOAL:
            return weights, round(float(level), 2)
    return weights, 0.99


def padded_index(search: CatalogSearch, products: int, folder: Path, rng: np.random.Generator) -> None:
    """An index of `products` products: the demo's rows, plus synthetic products near random demo ones.

    A synthetic product gets the rows (photo and views) of a random demo photo, each vector moved a
    little, and points at that photo's local features, so verifying it costs what a real one costs.
    """
    loaded = search.index()
    assert loaded is not None
    stored = StoredVectors.load(search.index_dir, "image", int(loaded.manifest["image_dim"]))
    by_photo: dict[str, list[int]] = {}
    for row, source in enumerate(stored.sources):
        by_photo.setdefault(photo_of(source), []).append(row)
    photos = list(by_photo.values())
    extra = max(0, products - len(set(stored.keys.tolist())))
    picked = [photos[i] for i in rng.integers(0, len(photos), extra)]
    rows = np.asarray([row for group in picked for row in group], dtype=np.int64)
    noise = rng.normal(scale=0.04, size=(len(rows), stored.vectors.shape[1])).astype(np.float32)
    vectors = np.concatenate([stored.vectors, normalise_rows(stored.vectors[rows] + noise)])
    first_key = int(stored.keys.max()) + 1
    keys = np.concatenate(
        [stored.keys, np.repeat(np.arange(first_key, first_key + extra), [len(g) for g in picked])]
    )
    images = StoredVectors(vectors, keys, stored.sources + [stored.sources[r] for r in rows])
    texts = StoredVectors.load(search.index_dir, "text", int(loaded.manifest["text_dim"]))
    images.save(folder, "image")
    texts.save(folder, "text")
    StoredFeatures.load(search.index_dir, FEATURES).save(folder, FEATURES)
    write_manifest(folder, search.image_encoder(), search.text_encoder(), images, texts)


def latency_at_scale(
    search: CatalogSearch, queries: list[Query], config: PhotoConfig, scales: tuple[int, ...]
) -> list[dict]:
    """Per-photo search time (embedding, neighbours, verification) on indexes of `scales` products."""
    rng = np.random.default_rng(3)
    rows = []
    for products in scales:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / "catalog"
            started = time.perf_counter()
            padded_index(search, products, folder / "index", rng)
            padded = CatalogSearch(folder, search.image_encoder, search.text_encoder, lambda: config)
            loaded = padded.index()
            built = time.perf_counter() - started
            assert loaded is not None
            timings = []
            for query in queries:
                started = time.perf_counter()
                padded.by_image(query.photo, 10, config)
                timings.append(time.perf_counter() - started)
            rows.append(
                {
                    "products": products,
                    "vectors": loaded.image_rows,
                    "search": loaded.images.kind,
                    "build_s": round(built, 1),
                    "p50_ms": round(percentile(timings, 50) * 1000, 1),
                    "p95_ms": round(percentile(timings, 95) * 1000, 1),
                }
            )
            print(
                f"  {products:>7} products ({loaded.image_rows} vectors, {loaded.images.kind}, "
                f"ready in {built:.0f} s): p50 {rows[-1]['p50_ms']} ms, p95 {rows[-1]['p95_ms']} ms per photo"
            )
    return rows


def print_summary(title: str, results: dict) -> None:
    sold, unsold = results["sold"], results["unsold"]
    print(f"{title}: {sold['queries']} photos of products, {unsold['queries']} of things not sold")
    print(
        f"  recall@1 {sold['recall_at_1']:.3f}, recall@5 {sold['recall_at_5']:.3f} "
        f"(embedding alone, catalogue photos only: {sold['plain_embedding_recall_at_1']:.3f} / "
        f"{sold['plain_embedding_recall_at_5']:.3f})"
    )
    for kind, row in results["by_kind"].items():
        print(
            f"    {kind}: recall@1 {row['recall_at_1']:.3f} (was {row['plain_embedding_recall_at_1']:.3f}), "
            f"recall@5 {row['recall_at_5']:.3f} (was {row['plain_embedding_recall_at_5']:.3f})"
        )
    print(
        f"  one product: {sold['one_product_share']:.0%} of photos, "
        f"{sold['one_product_precision']:.1%} right; "
        f"'one of these?': {sold['several_share']:.0%}, holding it {sold['several_holding_it']:.1%}; "
        f"'could not find it': {sold['none_share']:.0%}"
    )
    print(
        f"  not sold: {unsold['one_product']} one product, {unsold['several']} 'one of these?', "
        f"{unsold['none']} 'could not find it' "
        f"(confident false matches {unsold['confident_false_match_rate']:.1%})"
    )
    print(f"  search per photo: p50 {results['latency_ms']['p50']} ms, p95 {results['latency_ms']['p95']} ms")


def run(
    out: Path = ROOT / "results" / "photo_bench.json",
    calibrate_only: bool = False,
    per_photo: int = 2,
    scales: tuple[int, ...] = (1_000, 100_000),
) -> dict:
    """The whole benchmark; prints a summary and writes JSON."""
    config = PhotoConfig.load()
    encoder = EfficientNetLiteEncoder()
    results: dict = {}
    with demo_shop(encoder, config) as (search, photos):
        if calibrate_only:
            answers = answer(search, make_queries(photos, CALIBRATION_SEED, 1), config)
            weights, level = calibrate(answers, config)
            print("photos.yml, fitted on the calibration draw:")
            print(
                f"  confidence: {{bias: {weights.bias}, cosine: {weights.cosine}, "
                f"inliers: {weights.inliers}}}"
            )
            print(f"  show_one: {level}   # lowest level with precision >= {PRECISION_GOAL} on this draw")
            return {"confidence": weights.__dict__, "show_one": level}
        queries = make_queries(photos, EVALUATION_SEED, per_photo)
        results = summary(answer(search, queries, config), config)
        print_summary("photo search (photos.yml as committed)", results)
        if scales:
            print("latency at scale (per photo, one thread of work):")
            sample = [q for q in queries if q.truth is not None][::9][:40]
            results["scale"] = latency_at_scale(search, sample, config, scales)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


def photo_reply_latency(simulator_url: str, count: int = 20) -> dict:
    """End to end on Messenger, timed until the simulator records the reply.

    A customer's photo → signed webhook → Rasa → photo action (fetch, embed, search) → Send API.
    """
    import io
    import uuid

    import requests

    from bench.photo_queries import queries
    from bot.catalog.demo_images import write_catalog_images
    from bot.storage.seed import load_yaml

    products = load_yaml("catalog.yml")["products"]
    timings = []
    with tempfile.TemporaryDirectory() as scratch:
        written = write_catalog_images(products[:count], Path(scratch))
        for number, product in enumerate(products[:count]):
            with Image.open(written[product["sku"]][0]) as image:
                _, query = queries(image.convert("RGB"), seed=500 + number, per_image=1)[0]
            buffer = io.BytesIO()
            query.save(buffer, "JPEG", quality=85)
            upload = requests.post(
                f"{simulator_url}/_sim/media",
                files={"file": ("q.jpg", buffer.getvalue(), "image/jpeg")},
                timeout=30,
            ).json()
            user = str(2500000000000000 + uuid.uuid4().int % 10**12)
            started = time.perf_counter()
            requests.post(
                f"{simulator_url}/_sim/customer_message",
                json={"platform": "messenger", "user_id": user, "image_urls": [upload["url"]]},
                timeout=30,
            )
            while True:
                sends = requests.get(
                    f"{simulator_url}/_sim/sends", params={"recipient": user}, timeout=30
                ).json()
                if any("message" in s["body"] for s in sends):
                    break
                if time.perf_counter() - started > 30:
                    raise TimeoutError("no reply to a photo within 30 s")
                time.sleep(0.02)
            timings.append(time.perf_counter() - started)
    return {
        "photos": len(timings),
        "p50_s": round(percentile(timings, 50), 3),
        "p95_s": round(percentile(timings, 95), 3),
        "max_s": round(max(timings), 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "photo_bench.json")
    parser.add_argument(
        "--calibrate", action="store_true", help="fit photos.yml's weights and level, and stop"
    )
    parser.add_argument("--per-photo", type=int, default=2, help="queries of each kind per catalogue photo")
    parser.add_argument(
        "--scales", default="1000,100000", help="products in the padded indexes ('' for none)"
    )
    args = parser.parse_args()
    run(args.out, args.calibrate, args.per_photo, tuple(int(s) for s in args.scales.split(",") if s))
