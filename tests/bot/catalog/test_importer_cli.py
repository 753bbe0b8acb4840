"""`bot catalog import | index | search` as a content team uses them (real subprocesses, SQLite)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
BOT = str(ROOT / ".venv" / "bin" / "bot")


def bot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BOT, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )


def photo(path: Path, color: tuple[int, int, int]) -> str:
    image = Image.new("RGB", (300, 300), color)
    for x in range(0, 300, 30):  # some structure, so the photos are not all alike
        image.paste(
            (255 - color[0], color[1], 255 - color[2]), (x, (x * 7) % 270, x + 15, (x * 7) % 270 + 30)
        )
    image.save(path, "JPEG")
    return path.name


def test_import_index_and_search(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/shop.db", "VAR_DIR": str(tmp_path / "var")}
    assert bot(env, "db", "upgrade").returncode == 0
    red, blue = photo(tmp_path / "red.jpg", (200, 30, 40)), photo(tmp_path / "blue.jpg", (30, 60, 200))
    (tmp_path / "catalog.csv").write_text(
        "sku,title,category,price,url,colors,sizes,stock,images,description\n"
        f"P-1,Red Silk Scarf,accessories,25.00,https://shop.example/p1,red,one size,4,{red},A red scarf\n"
        f"P-2,Blue Canvas Tote,bags,19.5,https://shop.example/p2,blue|navy,one size,0,{blue},A blue tote\n"
        "P-3,Broken Row,bags,cheap,https://shop.example/p3,blue,one size,1,,\n"
        "P-4,Remote Photo,bags,10,https://shop.example/p4,blue,one size,1,https://elsewhere.example/a.jpg,\n"
    )
    first = bot(env, "catalog", "import", str(tmp_path / "catalog.csv"))
    assert first.returncode == 1  # some rows were refused, and the exit code says so
    assert "row 4 (sku P-3): price 'cheap' is not a number" in first.stdout
    assert "row 5 (P-4)" in first.stdout and "host not allowed" in first.stdout
    assert "2 added, 0 updated, 0 unchanged, 2 images added, 2 rows with errors" in first.stdout
    again = bot(env, "catalog", "import", str(tmp_path / "catalog.csv"))
    assert "0 added, 0 updated, 2 unchanged, 0 images added" in again.stdout

    index = bot(env, "catalog", "index")
    assert index.returncode == 0, index.stderr
    # Each photo and its 5 views (photos.yml) are embedded; local features of each photo and its blur.
    assert "2 products; image views: 12 embedded" in index.stdout
    assert "local features: 4 extracted" in index.stdout
    assert "up to date" in bot(env, "catalog", "index").stdout

    by_text = [
        json.loads(line) for line in bot(env, "catalog", "search", "--text", "a scarf").stdout.splitlines()
    ]
    assert by_text[0]["title"] == "Red Silk Scarf" and set(by_text[0]) == {"product_id", "title", "score"}
    by_image = bot(env, "catalog", "search", "--image", str(tmp_path / "blue.jpg"), "--limit", "1").stdout
    assert json.loads(by_image)["title"] == "Blue Canvas Tote"
    assert {"inliers", "confidence"} <= set(json.loads(by_image))
