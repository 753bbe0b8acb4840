"""Logo detection benchmark: the demo brand's logo in test photos, a competitor's, and photos with neither.

Photos with a logo are made by bench/logo_photos.py (turned, scaled, slanted, relit, partly hidden, on
the catalogue's base photos, photos of other things or a busy pattern, recompressed). The detector is
the one the photo action uses, with photos.yml's logos and threshold, plus a competitor's logo (drawn
in the same style) that it must tell apart. Prints precision and recall for "our logo is in the photo"
at photos.yml's threshold and around it, and the time per photo. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from PIL import Image

from bench.logo_photos import busy, logo_photo, plain_photo
from bench.photo_queries import customer_photos, unsold_photos
from bench.stats import percentile
from bot.catalog.demo_images import SOURCES, load_base, product_photo
from bot.catalog.demo_logo import competitor_logo, draw_logo
from bot.catalog.logos import LogoDetector, logo_from_image
from bot.catalog.photo_config import PhotoConfig

ROOT = Path(__file__).resolve().parent.parent
COMPETITOR = "North Knit (test competitor)"


def backgrounds() -> list[Image.Image]:
    """The catalogue's base photos and photos of other things: what a logo may be seen against."""
    return [load_base(source.name) for source in SOURCES] + [photo for _, photo in unsold_photos()[:10]]


def test_photos(count: int, seed: int = 0) -> list[tuple[str, Image.Image]]:
    """(what it shows, photo): `count` with our logo, count/2 with the competitor's, count with neither."""
    scenes = backgrounds()
    ours, theirs = draw_logo(), competitor_logo()
    photos = []
    for number in range(count):
        rng = random.Random(seed + number)
        scene = busy((800, 600), rng) if number % 3 == 0 else scenes[number % len(scenes)]
        photos.append(("ours", logo_photo(ours, scene, rng)))
        if number % 2 == 0:
            photos.append(("competitor", logo_photo(theirs, scene, random.Random(seed + 10_000 + number))))
        if number % 2 == 0:
            photos.append(("neither", plain_photo(scene, rng)))
        else:  # a customer's photo of a product: the most common photo the bot gets
            sku = f"BENCH-{number}"
            _, changed = customer_photos(
                product_photo(SOURCES[number % len(SOURCES)].name, sku, None), number
            )[1]
            photos.append(("neither", changed))
    return photos


def run(out: Path = ROOT / "results" / "logo_bench.json", count: int = 150) -> dict:
    """Detect logos in every test photo; print precision and recall of 'our logo' per threshold."""
    config = PhotoConfig.load()
    detector = LogoDetector.from_config(config)
    detector.logos.append(logo_from_image(COMPETITOR, False, competitor_logo()))
    detector.min_inliers = 1  # keep every sighting; thresholds are applied below
    photos = test_photos(count)
    seen, timings = [], []
    for truth, photo in photos:
        started = time.perf_counter()
        sightings = detector.detect(photo)
        timings.append(time.perf_counter() - started)
        ours = max((s.inliers for s in sightings if s.ours), default=0)
        theirs = max((s.inliers for s in sightings if not s.ours), default=0)
        seen.append((truth, ours, theirs))

    def at(threshold: int) -> dict:
        found = [(truth, ours >= threshold) for truth, ours, _ in seen]
        true_positive = sum(1 for truth, hit in found if hit and truth == "ours")
        detected = sum(1 for _, hit in found if hit)
        positives = sum(1 for truth, _ in found if truth == "ours")
        return {
            "min_inliers": threshold,
            "precision": round(true_positive / detected, 4) if detected else None,
            "recall": round(true_positive / positives, 4),
            "false_on_competitor": sum(1 for truth, hit in found if hit and truth == "competitor"),
            "false_on_neither": sum(1 for truth, hit in found if hit and truth == "neither"),
            "competitor_recall": round(
                sum(1 for truth, _, theirs in seen if truth == "competitor" and theirs >= threshold)
                / max(1, sum(1 for truth, _, _ in seen if truth == "competitor")),
                4,
            ),
        }

    chosen = config.logo_min_inliers
    results = {
        "photos": {
            kind: sum(1 for truth, _, _ in seen if truth == kind)
            for kind in ("ours", "competitor", "neither")
        },
        "at_config": at(chosen),
        "by_threshold": [at(t) for t in sorted({6, 8, 10, 12, 15, 20, chosen})],
        "latency_ms": {
            "p50": round(percentile(timings, 50) * 1000, 1),
            "p95": round(percentile(timings, 95) * 1000, 1),
        },
    }
    counts = results["photos"]
    print(
        f"logo detection: {counts['ours']} photos with our logo, {counts['competitor']} with a competitor's, "
        f"{counts['neither']} with neither"
    )
    for row in results["by_threshold"]:
        mark = "  <- photos.yml" if row["min_inliers"] == chosen else ""
        print(
            f"  min_inliers {row['min_inliers']:>2}: precision {row['precision']}, recall {row['recall']} "
            f"(false: {row['false_on_competitor']} on the competitor's logo, {row['false_on_neither']} on "
            f"photos without a logo; competitor found {row['competitor_recall']}){mark}"
        )
    print(f"  per photo: p50 {results['latency_ms']['p50']} ms, p95 {results['latency_ms']['p95']} ms")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "logo_bench.json")
    parser.add_argument(
        "--count", type=int, default=150, help="photos with our logo (and half as many others)"
    )
    args = parser.parse_args()
    run(args.out, args.count)
