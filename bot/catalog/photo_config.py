"""photos.yml: how photo lookup indexes the catalogue and how sure it must be before it shows a product.

Thresholds apply to a calibrated confidence, the probability that a candidate product is the one in
the photo, from its embedding similarity and its geometric verification (inliers). The weights come
from `python -m bench.photo_search --calibrate`, the thresholds from the same benchmark's precision at
each level; editors may move the thresholds (read again within seconds, no restart). What is indexed
(`index:`) takes effect at the next `bot catalog index`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.catalog.views import VIEWS
from bot.config_files import CHECK_EVERY_SECONDS, WatchedFile, read_yaml
from bot.settings import PROJECT_ROOT

CONFIG_FILE = PROJECT_ROOT / "photos.yml"


@dataclass(frozen=True)
class Confidence:
    """p(right product) = sigmoid(bias + cosine·w_cosine + ln(1 + inliers)·w_inliers).

    The defaults are photos.yml's committed calibration, so a missing file behaves the same.
    """

    bias: float = -15.162
    cosine: float = 9.563
    inliers: float = 3.429

    def of(self, cosine: float, inliers: int) -> float:
        """The calibrated probability for one candidate."""
        z = self.bias + self.cosine * cosine + self.inliers * math.log1p(max(inliers, 0))
        return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


@dataclass(frozen=True)
class LogoEntry:
    """A logo to look for in photos: its image is "demo" (the demo brand's, drawn) or a file by photos.yml."""

    name: str
    image: str
    ours: bool = True


@dataclass(frozen=True)
class PhotoConfig:
    """photos.yml, parsed."""

    views: tuple[str, ...] = tuple(VIEWS)  # extra embedded views of each catalogue photo
    feature_views: tuple[str, ...] = ("blur",)  # local features also of these views (blurred queries)
    candidates: int = 10  # products the embedding proposes for verification
    confidence: Confidence = field(default_factory=Confidence)
    show_one: float = 0.87  # one product card from here ...
    runner_up_below: float = 0.5  # ... when the second product is less likely than this
    show_several: float = 0.3  # "is it one of these?" from here; below it, "could not find it"
    logos: tuple[LogoEntry, ...] = (LogoEntry("Loom & Co", "demo"),)
    logo_min_inliers: int = 15  # keypoints one view of the logo must explain (bench/logo_detection.py)
    thank_for_our_logo: bool = True  # a positive message with a photo showing our logo gets a thank-you

    @classmethod
    def load(cls, path: Path = CONFIG_FILE) -> PhotoConfig:
        """Read photos.yml (a missing file or key keeps the default); ValueError for one that cannot work."""
        data: dict[str, Any] = read_yaml(path, missing={}) or {}
        if not isinstance(data, dict):
            raise ValueError("expected a mapping of photo lookup settings")
        default = cls()
        index = data.get("index") or {}
        search = data.get("search") or {}
        levels = data.get("levels") or {}
        weights = search.get("confidence") or {}
        logos = data.get("logos") or {}
        brands = logos.get("brands", None)
        config = cls(
            views=tuple(index.get("views", default.views)),
            feature_views=tuple(index.get("feature_views", default.feature_views)),
            candidates=int(search.get("candidates", default.candidates)),
            confidence=Confidence(
                bias=float(weights.get("bias", default.confidence.bias)),
                cosine=float(weights.get("cosine", default.confidence.cosine)),
                inliers=float(weights.get("inliers", default.confidence.inliers)),
            ),
            show_one=float(levels.get("show_one", default.show_one)),
            runner_up_below=float(levels.get("runner_up_below", default.runner_up_below)),
            show_several=float(levels.get("show_several", default.show_several)),
            logos=default.logos if brands is None else tuple(_logo(entry) for entry in brands),
            logo_min_inliers=int(logos.get("min_inliers", default.logo_min_inliers)),
            thank_for_our_logo=bool(logos.get("thank_for_our_logo", default.thank_for_our_logo)),
        )
        config.check()
        return config

    def check(self) -> None:
        """ValueError naming what cannot work."""
        unknown = sorted((set(self.views) | set(self.feature_views)) - set(VIEWS))
        if unknown:
            raise ValueError(f"unknown view(s) {unknown}; known: {sorted(VIEWS)}")
        if not 1 <= self.candidates <= 100:
            raise ValueError(f"search.candidates must be 1-100, not {self.candidates}")
        for name in ("show_one", "runner_up_below", "show_several"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"levels.{name} is a probability (0-1), not {getattr(self, name)}")
        if self.show_several > self.show_one:
            raise ValueError("levels.show_several must not be above levels.show_one")
        if self.logo_min_inliers < 6:
            raise ValueError(
                f"logos.min_inliers below 6 finds logos in any photo, not {self.logo_min_inliers}"
            )
        for logo in self.logos:
            if logo.image != "demo" and not (CONFIG_FILE.parent / logo.image).is_file():
                raise ValueError(f"logo {logo.name!r}: no file {logo.image!r} next to photos.yml")

    @property
    def logo_names(self) -> tuple[tuple[str, str, bool], ...]:
        """What identifies the configured logos (a detector is rebuilt when this changes)."""
        return tuple((logo.name, logo.image, logo.ours) for logo in self.logos)

    @classmethod
    def watch(cls, path: Path = CONFIG_FILE, every: float = CHECK_EVERY_SECONDS) -> WatchedFile[PhotoConfig]:
        """photos.yml, re-read when edited (a broken file at start-up: ConfigFileError)."""
        return WatchedFile(path, cls.load, every)


def _logo(entry: Any) -> LogoEntry:
    """One `logos.brands` item: {name, image, ours}."""
    if not isinstance(entry, dict) or not entry.get("name") or not entry.get("image"):
        raise ValueError(f"a logo needs a name and an image, not {entry!r}")
    return LogoEntry(str(entry["name"]), str(entry["image"]), bool(entry.get("ours", True)))
