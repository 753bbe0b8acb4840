"""Photos of things not sold: shipped in bench/unsold_photos/, the recorded bytes, no package needed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from bench import photo_queries
from bench.photo_queries import UNSOLD_DIR, UNSOLD_FILES

from ..bot.catalog.test_demo_images import WITHOUT_SAMPLE_PACKAGES

ROOT = Path(photo_queries.__file__).parents[1]


@pytest.mark.parametrize("name", list(UNSOLD_FILES))
def test_each_file_has_its_recorded_bytes_size_and_mode(name: str) -> None:
    # The benchmark's figures for things not sold depend on these exact bytes: a corrupted, swapped or
    # re-encoded file fails here.
    size, mode, sha256 = UNSOLD_FILES[name]
    path = UNSOLD_DIR / name
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256, path
    with Image.open(path) as image:
        assert (image.size, image.mode) == (size, mode), path


def test_shipped_files_are_the_listed_ones_distinct_and_in_the_readme() -> None:
    shipped = {path.name for path in UNSOLD_DIR.iterdir()} - {"README.md"}
    assert shipped == set(UNSOLD_FILES)
    assert len({sha256 for _, _, sha256 in UNSOLD_FILES.values()}) == len(UNSOLD_FILES)
    readme = (UNSOLD_DIR / "README.md").read_text(encoding="utf-8")
    for name in UNSOLD_FILES:
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None and row.count(" | ") == 3, name  # file, origin, subject, licence


def test_none_is_a_demo_base_photo() -> None:
    from bot.catalog import demo_images

    base_digests = {sha256 for _, _, sha256 in demo_images.FINGERPRINTS.values()}
    assert base_digests.isdisjoint(sha256 for _, _, sha256 in UNSOLD_FILES.values())


def test_unsold_photos_load_without_scikit_image_or_matplotlib() -> None:
    # A fresh interpreter where scikit-image and matplotlib cannot even be found: the photos ship here.
    script = WITHOUT_SAMPLE_PACKAGES + textwrap.dedent(
        """
        import json, sys

        from bench.photo_queries import unsold_photos

        photos = unsold_photos()
        print(json.dumps({
            "names": [name for name, _ in photos],
            "modes": sorted({photo.mode for _, photo in photos}),
            "imported": sorted({"skimage", "sklearn", "matplotlib"} & set(sys.modules)),
        }))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["names"][: len(UNSOLD_FILES)] == list(UNSOLD_FILES)
    assert len(report["names"]) > len(UNSOLD_FILES)  # then the look-alikes
    assert report["modes"] == ["RGB"]
    assert report["imported"] == []
