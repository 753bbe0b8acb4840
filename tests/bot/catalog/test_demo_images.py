"""Demo product photos: offline sources, distinct photos per product, faithful colour variants, same bytes."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from bot.catalog import demo_images
from bot.catalog.demo_images import COLORS, SOURCES, assign, product_photo, region_of, regions

CATALOG = Path(demo_images.__file__).parents[1] / "storage" / "seed" / "catalog.yml"
ROOT = Path(demo_images.__file__).parents[2]


# The start of a fresh interpreter's script in which scikit-image and matplotlib cannot even be found.
WITHOUT_SAMPLE_PACKAGES = textwrap.dedent(
    """
    import sys

    class Absent:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {"skimage", "matplotlib"}:
                raise ModuleNotFoundError(f"{name} is blocked in this test", name=name)
            return None

    sys.meta_path.insert(0, Absent())
    """
)


@pytest.fixture(scope="module")
def products() -> list[dict]:
    with CATALOG.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)["products"]


def edges(image: Image.Image) -> np.ndarray:
    """Gradient magnitude of the grey image: where the structure is, whatever the colour."""
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    return np.hypot(np.diff(grey, axis=1)[:-1], np.diff(grey, axis=0)[:, :-1]).ravel()


def edge_correlation(a: Image.Image, b: Image.Image) -> float:
    return float(np.corrcoef(edges(a), edges(b))[0, 1])


def mean_color(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(axis=0)


def test_sources_load_offline_without_scikit_image_or_matplotlib() -> None:
    # A fresh interpreter where every socket call fails and scikit-image and matplotlib cannot even be
    # found: the photos ship with the code. scikit-learn's two are read from its directory, never imported.
    script = WITHOUT_SAMPLE_PACKAGES + textwrap.dedent(
        """
        import json, socket, sys

        def refuse(*args, **kwargs):
            raise OSError("network disabled for this test")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        from bot.catalog import demo_images

        sizes = {s.name: demo_images.load_base(s.name).size for s in demo_images.SOURCES}
        modes = {demo_images.load_base(s.name).mode for s in demo_images.SOURCES}
        imported = sorted({"skimage", "sklearn", "matplotlib"} & set(sys.modules))
        print(json.dumps({"sizes": sizes, "modes": sorted(modes), "imported": imported}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["sizes"]) == {source.name for source in SOURCES}
    assert all(min(size) >= 170 for size in report["sizes"].values()), report["sizes"]
    assert report["modes"] == ["RGB"]
    assert report["imported"] == []


@pytest.mark.parametrize("source", SOURCES, ids=lambda source: source.name)
def test_each_file_has_its_recorded_bytes_size_and_mode(source: demo_images.PhotoSource) -> None:
    # Every product photo depends on these exact bytes: a corrupted, swapped or re-encoded file fails here.
    size, mode, sha256 = demo_images.FINGERPRINTS[source.name]
    path = demo_images.source_file(source.name)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256, path
    with Image.open(path) as image:
        assert (image.size, image.mode) == (size, mode), path


def test_sources_are_distinct_photos() -> None:
    names = [source.name for source in SOURCES]
    assert len(set(names)) == len(names)
    assert len({(source.package, source.file) for source in SOURCES}) == len(SOURCES)
    assert len({sha256 for _, _, sha256 in demo_images.FINGERPRINTS.values()}) == len(SOURCES)
    assert all(source.licence and source.subject for source in SOURCES)


def test_shipped_photos_are_the_sources_and_the_readme_lists_them() -> None:
    assert set(demo_images.FINGERPRINTS) == {source.name for source in SOURCES}
    shipped = {path.name for path in demo_images.PHOTOS_DIR.iterdir()} - {"README.md"}
    assert shipped == {source.file for source in SOURCES if source.package is None}
    readme = (demo_images.PHOTOS_DIR / "README.md").read_text(encoding="utf-8")
    for source in SOURCES:
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{Path(source.file).name}` |"))
        assert source.subject in row and source.licence in row, row


@pytest.mark.parametrize("source", SOURCES, ids=lambda source: source.name)
def test_regions_are_three_disjoint_squares_inside_the_photo(source: demo_images.PhotoSource) -> None:
    width, height = demo_images.load_base(source.name).size
    boxes = regions(source.name)
    assert len(boxes) == demo_images.REGIONS_PER_PHOTO
    for left, top, right, bottom in boxes:
        assert right - left == bottom - top >= 128
        assert 0 <= left < right <= width and 0 <= top < bottom <= height
    for a, b in itertools.combinations(boxes, 2):
        assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def test_first_products_get_distinct_photos_and_sharers_distinct_regions(products: list[dict]) -> None:
    skus = [product["sku"] for product in products]
    mapping = assign(skus)

    assert list(mapping) == skus
    first = [mapping[sku] for sku in skus[: len(SOURCES)]]
    assert first == [source.name for source in SOURCES]
    for name in {source.name for source in SOURCES}:
        sharing = [sku for sku in skus if mapping[sku] == name]
        assert 1 <= len(sharing) <= demo_images.REGIONS_PER_PHOTO
        assert len({region_of(name, sku) for sku in sharing}) == len(sharing), (name, sharing)
    # Scenes are shared before textures.
    texture_loads = [len([s for s in skus if mapping[s] == src.name]) for src in SOURCES if src.texture]
    scene_loads = [len([s for s in skus if mapping[s] == src.name]) for src in SOURCES if not src.texture]
    assert sum(scene_loads) >= 2 * sum(texture_loads)


def test_assign_is_deterministic_and_stable_when_products_are_appended(products: list[dict]) -> None:
    skus = [product["sku"] for product in products]
    full = assign(skus)
    assert assign(list(skus)) == full
    prefix = assign(skus[:25])
    assert prefix == {sku: full[sku] for sku in skus[:25]}
    assert assign(skus + skus[:3]) == full  # repeats are mapped once


def test_many_more_products_than_regions_still_map() -> None:
    skus = [f"SKU-{n:03d}" for n in range(4 * len(SOURCES) * demo_images.REGIONS_PER_PHOTO)]
    mapping = assign(skus)
    assert set(mapping.values()) == {source.name for source in SOURCES}


def test_products_sharing_a_photo_look_different(products: list[dict]) -> None:
    mapping = assign([product["sku"] for product in products])
    checked = 0
    for name in {source.name for source in SOURCES}:
        sharing = [sku for sku in mapping if mapping[sku] == name]
        for a, b in itertools.combinations(sharing, 2):
            photo_a, photo_b = product_photo(name, a, None, 256), product_photo(name, b, None, 256)
            assert edge_correlation(photo_a, photo_b) < 0.3, (name, a, b)
            checked += 1
    assert checked >= 10


def test_colour_variants_keep_structure_and_change_colour(products: list[dict]) -> None:
    mapping = assign([product["sku"] for product in products])
    correlations = []
    for product in products:
        sku, colors = product["sku"], product["colors"]
        plain = product_photo(mapping[sku], sku, None, 256)
        variants = {color: product_photo(mapping[sku], sku, color, 256) for color in colors}
        for color, variant in variants.items():
            correlation = edge_correlation(plain, variant)
            assert correlation > 0.5, (sku, color, correlation)
            correlations.append(correlation)
        for (a, image_a), (b, image_b) in itertools.combinations(variants.items(), 2):
            distance = float(np.linalg.norm(mean_color(image_a) - mean_color(image_b)))
            assert distance > 15, (sku, a, b, distance)
    assert np.median(correlations) > 0.9


def test_colour_moves_the_mean_towards_the_named_colour() -> None:
    sku, base = "TEST-1", SOURCES[0].name
    for color in ("navy", "terracotta", "sage", "black", "cream"):
        photo = mean_color(product_photo(base, sku, color, 128))
        named = np.asarray(COLORS[color], dtype=np.float64)
        others = [np.asarray(rgb, dtype=np.float64) for name, rgb in COLORS.items() if name != color]
        # Nearer its own colour than most others (neighbours such as camel/tan may be as close).
        closer_than = sum(np.linalg.norm(photo - named) < np.linalg.norm(photo - other) for other in others)
        assert closer_than >= 0.8 * len(others), (color, photo)


def test_every_catalogue_colour_is_known_and_unknown_ones_fail(products: list[dict]) -> None:
    assert {color for product in products for color in product["colors"]} <= set(COLORS)
    with pytest.raises(ValueError, match="plaid"):
        product_photo(SOURCES[0].name, "TEST-1", "plaid")


@pytest.mark.parametrize("size", [96, 224, 512])
@pytest.mark.parametrize("color", [None, "navy"])
def test_photos_are_square_rgb_of_the_asked_size(size: int, color: str | None) -> None:
    photo = product_photo(SOURCES[2].name, "TEST-1", color, size)
    assert photo.mode == "RGB"
    assert photo.size == (size, size)


def test_same_framing_for_every_colour_of_a_product() -> None:
    base = SOURCES[1].name
    a = product_photo(base, "TEST-1", "navy", 128)
    b = product_photo(base, "TEST-1", "mustard", 128)
    other = product_photo(base, "TEST-2", "navy", 128)
    assert edge_correlation(a, b) > 0.8
    assert edge_correlation(a, other) < edge_correlation(a, b)


def test_catalogue_images_are_written_fast_and_byte_identical(products: list[dict], tmp_path: Path) -> None:
    demo_images.load_base.cache_clear()
    demo_images.regions.cache_clear()
    started = time.perf_counter()
    first = demo_images.write_catalog_images(products, tmp_path / "a")
    elapsed = time.perf_counter() - started
    second = demo_images.write_catalog_images(products, tmp_path / "b")

    assert elapsed < 5.0
    assert list(first) == [product["sku"] for product in products]
    for product in products:
        sku = product["sku"]
        slugs = ["-".join(color.split()) for color in product["colors"]]
        assert [path.name for path in first[sku]] == [f"{sku}-{slug}.jpg" for slug in slugs]
        for path_a, path_b in zip(first[sku], second[sku], strict=True):
            assert path_a.read_bytes() == path_b.read_bytes(), path_a.name
    spaced = next(path for paths in first.values() for path in paths if path.stem.count("-") > 1)
    with Image.open(spaced) as image:  # a colour name with a space, like "light blue"
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (512, 512))
    assert len(list((tmp_path / "a").iterdir())) == sum(len(p["colors"]) for p in products)


def test_a_product_without_colours_gets_one_photo_in_its_own_colours(tmp_path: Path) -> None:
    written = demo_images.write_catalog_images([{"sku": "GIFT-001", "colors": []}], tmp_path)
    assert [path.name for path in written["GIFT-001"]] == ["GIFT-001.jpg"]
