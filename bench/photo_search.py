"""Photo search benchmark: recall on realistic photo queries, search latency at scale, build speed.

Queries are the demo catalogue's photos changed the way customers' photos differ from product shots
(crops, rotation, scale, lighting, blur, JPEG, background, flips; bench/photo_queries.py). Latency is
measured at 1k, 10k and 100k catalogue vectors (the real ones padded with synthetic vectors near them),
for exact search and HNSW, with HNSW's recall against exact search. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.photo_queries import queries
from bench.stats import percentile
from bot.catalog.demo_images import write_catalog_images
from bot.catalog.encoders import EfficientNetLiteEncoder, normalise_rows
from bot.catalog.vector_index import ExactIndex, HnswIndex
from bot.catalog.vector_search import group_by_product, verdict
from bot.storage.seed import load_yaml

ROOT = Path(__file__).resolve().parent.parent
SCALES = (1_000, 10_000, 100_000)


def catalogue(encoder: EfficientNetLiteEncoder) -> tuple[list[Image.Image], np.ndarray, np.ndarray, float]:
    """Demo photos, their vectors, their product numbers, and embedding throughput (images/s)."""
    products = load_yaml("catalog.yml")["products"]
    with tempfile.TemporaryDirectory() as scratch:
        written = write_catalog_images(products, Path(scratch))
        images, keys = [], []
        for number, product in enumerate(products):
            for path in written[product["sku"]]:
                with Image.open(path) as image:
                    images.append(image.convert("RGB"))
                keys.append(number)
    started = time.perf_counter()
    vectors = np.concatenate([encoder.encode_images(images[i : i + 16]) for i in range(0, len(images), 16)])
    rate = len(images) / (time.perf_counter() - started)
    return images, vectors, np.asarray(keys), rate


def recall(
    encoder: EfficientNetLiteEncoder, images: list[Image.Image], vectors: np.ndarray, keys: np.ndarray
) -> dict:
    """recall@1 / @5 by augmentation, and how often verdicts are confident and right."""
    index = ExactIndex(vectors, keys)
    by_kind: dict[str, list[tuple[bool, bool]]] = {}
    confident = confident_right = 0
    for number, image in enumerate(images):
        for name, query in queries(image, seed=number, per_image=4):
            matches = group_by_product(
                [(h.key, h.score) for h in index.search(encoder.encode_images([query])[0], 50)], 5
            )
            top1 = bool(matches) and matches[0].product_id == keys[number]
            top5 = any(m.product_id == keys[number] for m in matches)
            by_kind.setdefault(name, []).append((top1, top5))
            judged = verdict(matches)
            if judged.kind == "confident":
                confident += 1
                confident_right += judged.matches[0].product_id == keys[number]
    everything = [r for rows in by_kind.values() for r in rows]
    return {
        "queries": len(everything),
        "recall_at_1": round(float(sum(a for a, _ in everything)) / len(everything), 4),
        "recall_at_5": round(sum(b for _, b in everything) / len(everything), 4),
        "by_augmentation": {
            k: round(float(sum(a for a, _ in v)) / len(v), 3) for k, v in sorted(by_kind.items())
        },
        "confident_share": round(confident / len(everything), 3),
        "confident_precision": round(float(confident_right) / max(confident, 1), 4),
    }


def strangers(encoder: EfficientNetLiteEncoder, vectors: np.ndarray, keys: np.ndarray) -> dict:
    """Photos of things we do not sell (noise, flat colours): how often the bot would claim a match."""
    rng = np.random.default_rng(7)
    photos = [Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)) for _ in range(10)]
    photos += [
        Image.new("RGB", (256, 256), tuple(int(c) for c in rng.integers(0, 255, 3))) for _ in range(10)
    ]
    index = ExactIndex(vectors, keys)
    kinds = [
        verdict(group_by_product([(h.key, h.score) for h in index.search(v, 50)], 5)).kind
        for v in encoder.encode_images(photos)
    ]
    return {
        "photos": len(photos),
        "none": kinds.count("none"),
        "several": kinds.count("several"),
        "confident": kinds.count("confident"),
    }


def padded(vectors: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """The real vectors plus synthetic ones near random real ones, `size` rows in all."""
    extra = size - len(vectors)
    base = vectors[rng.integers(0, len(vectors), extra)]
    noise = rng.normal(scale=0.04, size=base.shape).astype(np.float32)
    return np.concatenate([vectors, normalise_rows(base + noise)])


def latency(vectors: np.ndarray, query_vectors: np.ndarray) -> list[dict]:
    """p50/p99 search latency for exact and HNSW at each scale, HNSW recall@5 against exact, build time."""
    rng = np.random.default_rng(3)
    rows = []
    for size in SCALES:
        data = padded(vectors, size, rng)
        keys = np.arange(size)
        exact = ExactIndex(data, keys)
        started = time.perf_counter()
        hnsw = HnswIndex(data, keys)
        build = time.perf_counter() - started
        timings: dict[str, list[float]] = {"exact": [], "hnsw": []}
        overlap = []
        for query in query_vectors:
            for name, index in (("exact", exact), ("hnsw", hnsw)):
                started = time.perf_counter()
                hits = index.search(query, 5)
                timings[name].append((time.perf_counter() - started) * 1000)
                if name == "exact":
                    truth = {h.key for h in hits}
                else:
                    overlap.append(len(truth & {h.key for h in hits}) / 5)
        rows.append(
            {
                "vectors": size,
                "exact_p50_ms": round(percentile(timings["exact"], 50), 3),
                "exact_p99_ms": round(percentile(timings["exact"], 99), 3),
                "hnsw_p50_ms": round(percentile(timings["hnsw"], 50), 3),
                "hnsw_p99_ms": round(percentile(timings["hnsw"], 99), 3),
                "hnsw_recall_at_5": round(statistics.fmean(overlap), 4),
                "hnsw_build_s": round(build, 2),
            }
        )
    return rows


def run(out: Path = ROOT / "results" / "photo_bench.json") -> dict:
    """The whole offline benchmark; prints a summary and writes JSON."""
    encoder = EfficientNetLiteEncoder()
    images, vectors, keys, rate = catalogue(encoder)
    results: dict = {"catalogue_images": len(images), "embedding_images_per_s": round(rate, 1)}
    results["recall"] = recall(encoder, images, vectors, keys)
    results["strangers"] = strangers(encoder, vectors, keys)
    sample = [q for i, image in enumerate(images[:40]) for _, q in queries(image, seed=100 + i, per_image=1)]
    results["latency"] = latency(vectors, encoder.encode_images(sample))
    r = results["recall"]
    print(f"catalogue: {len(images)} photos, embedding {rate:.0f} images/s")
    print(f"photo queries: {r['queries']}, recall@1 {r['recall_at_1']:.3f}, recall@5 {r['recall_at_5']:.3f}")
    print(f"  by augmentation (recall@1): {r['by_augmentation']}")
    print(f"  confident answers: {r['confident_share']:.0%} of queries, {r['confident_precision']:.1%} right")
    print(f"unrelated photos: {results['strangers']}")
    for row in results["latency"]:
        exact = f"exact p50 {row['exact_p50_ms']} ms p99 {row['exact_p99_ms']} ms"
        hnsw = f"HNSW p50 {row['hnsw_p50_ms']} ms p99 {row['hnsw_p99_ms']} ms"
        hnsw += f", recall@5 {row['hnsw_recall_at_5']}, build {row['hnsw_build_s']} s"
        print(f"  {row['vectors']:>7} vectors: {exact} | {hnsw}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "photo_bench.json")
    run(parser.parse_args().out)


def photo_reply_latency(simulator_url: str, count: int = 20) -> dict:
    """End to end on Messenger, timed until the simulator records the reply.

    A customer's photo → signed webhook → Rasa → photo action (fetch, embed, search) → Send API.
    """
    import io
    import uuid

    import requests

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
