"""Brand logos in customers' photos: the brand's own (and competitors', if listed) found by local features.

Each logo in photos.yml (`logos:`) is described once by its SIFT keypoints, at three sizes (a logo far
away shows less detail than its file). A photo is described at a higher resolution than for product
search (`PHOTO_SIDE`), with every keypoint SIFT finds, so a logo on a bag or a shop front, a small part
of a detailed frame, still has its own. Neither is histogram-equalised: a logo's flat colours would
then depend on what surrounds it. A logo is seen when its keypoints match the photo's and one
perspective transform (a homography, by RANSAC) explains at least `min_inliers` of the matches, and that
transform is a plausible view of a flat logo: it keeps the logo's outline convex, not mirrored, and
neither vanishingly small nor larger than the photo.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from bot.catalog.local_features import Features, extract, matched_points
from bot.catalog.photo_config import CONFIG_FILE, PhotoConfig

PHOTO_SIDE = 960  # a customer's photo is described at this longer side ...
PHOTO_KEYPOINTS = 5000  # ... with up to this many keypoints (a detailed background has thousands)
LOGO_SIDE = 520  # a logo's positions are kept at this longer side ...
LOGO_SIDES = (520, 260, 150)  # ... and its keypoints found at these
LOGO_KEYPOINTS = 800
REPROJECTION_PX = 8.0  # at PHOTO_SIDE
MIN_AREA_SHARE = 0.002  # the logo covers at least 0.2 % of the photo (about 43×43 px at 960 px)


@dataclass(frozen=True)
class Logo:
    """A logo to look for: its name, whether it is the brand's own, and its local features."""

    name: str
    ours: bool
    features: Features
    size: tuple[int, int]  # width, height at LOGO_SIDE


@dataclass(frozen=True)
class Sighting:
    """A logo seen in a photo, and how many keypoints agree."""

    name: str
    ours: bool
    inliers: int


def logo_from_image(name: str, ours: bool, image: Image.Image) -> Logo:
    """Describe a logo image once, at each of LOGO_SIDES (positions in LOGO_SIDE pixels)."""
    scale = LOGO_SIDE / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    parts = []
    for side in LOGO_SIDES:
        found = extract(image, side, LOGO_KEYPOINTS, equalise=False)
        parts.append(Features(found.points * (LOGO_SIDE / side), found.descriptors))
    points = np.concatenate([p.points for p in parts]).astype(np.float32)
    return Logo(name, ours, Features(points, np.concatenate([p.descriptors for p in parts])), size)


def describe_photo(image: Image.Image) -> tuple[Features, tuple[int, int]]:
    """A photo's keypoints for logo search, and its size at PHOTO_SIDE."""
    scale = PHOTO_SIDE / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return extract(image, PHOTO_SIDE, PHOTO_KEYPOINTS, equalise=False), size


def _plausible(homography: np.ndarray, logo_size: tuple[int, int], photo_size: tuple[int, int]) -> bool:
    """A flat logo seen by a camera: a convex, unmirrored outline of a sensible size for the photo."""
    width, height = logo_size
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]]).reshape(-1, 1, 2)
    outline = cv2.perspectiveTransform(corners, homography).reshape(-1, 2)
    if not np.all(np.isfinite(outline)) or not cv2.isContourConvex(outline.astype(np.float32)):
        return False
    # Shoelace area; positive for the corners' original (clockwise in image coordinates) order.
    x, y = outline[:, 0], outline[:, 1]
    area = 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    photo_area = float(photo_size[0] * photo_size[1])
    return MIN_AREA_SHARE * photo_area <= area <= 4.0 * photo_area


def agreeing(logo: Logo, photo: Features, photo_size: tuple[int, int]) -> int:
    """How many of the logo's keypoints one plausible view of it puts onto the photo's (0: not seen)."""
    source, target = matched_points(logo.features, photo)
    if len(source) < 8:
        return 0
    homography, mask = cv2.findHomography(source, target, cv2.RANSAC, REPROJECTION_PX)
    if homography is None or mask is None or not _plausible(homography, logo.size, photo_size):
        return 0
    return int(mask.sum())


class LogoDetector:
    """Finds the configured logos in photos."""

    def __init__(self, logos: list[Logo], min_inliers: int) -> None:
        self.logos = logos
        self.min_inliers = min_inliers

    @classmethod
    def from_config(cls, config: PhotoConfig) -> LogoDetector:
        """The logos photos.yml lists, described once."""
        logos = [
            logo_from_image(entry.name, entry.ours, load_logo_image(entry.image, CONFIG_FILE.parent))
            for entry in config.logos
        ]
        return cls(logos, config.logo_min_inliers)

    def detect(self, image: Image.Image) -> list[Sighting]:
        """The logos seen in `image`, most certain first (none when no logo is configured)."""
        if not self.logos:
            return []
        photo, size = describe_photo(image)
        seen = [Sighting(logo.name, logo.ours, agreeing(logo, photo, size)) for logo in self.logos]
        return sorted((s for s in seen if s.inliers >= self.min_inliers), key=lambda s: -s.inliers)


class ConfiguredLogos:
    """The detector for photos.yml's logos as they are now, described again only when the list changes."""

    def __init__(self, config: Callable[[], PhotoConfig]) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._detector = LogoDetector([], 1)

    def detector(self) -> LogoDetector:
        """The current detector for the logos photos.yml lists."""
        config = self._config()
        key = (config.logo_names, config.logo_min_inliers)
        with self._lock:
            if key != self._key:
                self._detector = LogoDetector.from_config(config)
                self._key = key
            return self._detector


def load_logo_image(reference: str, base: Path) -> Image.Image:
    """A logo's picture: "demo" is the demo brand's drawn logo; anything else a file relative to `base`."""
    if reference == "demo":
        from bot.catalog.demo_logo import draw_logo

        return draw_logo()
    with Image.open(base / reference) as image:
        return image.convert("RGB")
