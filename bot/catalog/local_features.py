"""Local features of photos (SIFT keypoints) and geometric verification of a match between two photos.

A global embedding says "these look alike"; local features say "this is the same object": keypoints
matched between a customer's photo and a catalogue photo, kept only if one rotation + scale + shift
(RANSAC) maps them onto each other. The number of such inliers is what re-ranks the embedding's
candidates (`bot/catalog/vector_search.py`) and what finds the brand's logo in any photo.

Photos are scaled to `SIDE` px and histogram-equalised before SIFT, so relit and recoloured photos
give the same keypoints; descriptors are stored as SIFT's bytes and compared as RootSIFT (Hellinger
distance), which matches better than plain L2. Matches are one-to-one, and a transform that shrinks or
grows the picture more than tenfold is refused: without both, a repetitive texture lets RANSAC "explain"
hundreds of matches piled onto one point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

SIDE = 320  # features are computed on the photo scaled to this longer side
KEYPOINTS = 500  # at most this many per photo (the strongest)
RATIO = 0.8  # Lowe's ratio test: the best match must be clearly better than the second best
# RANSAC: an inlier lands within this many pixels (at SIDE) of where the transform puts it.
REPROJECTION_PX = 6.0
SCALE_RANGE = (0.1, 10.0)  # a plausible change of size between two photos of one object


@dataclass(frozen=True)
class Features:
    """Keypoint positions (n×2, px at SIDE) and their SIFT descriptors (n×128 bytes)."""

    points: np.ndarray
    descriptors: np.ndarray

    def __len__(self) -> int:
        return len(self.points)


EMPTY = Features(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8))


def extract(
    image: Image.Image, side: int = SIDE, keypoints: int = KEYPOINTS, equalise: bool = True
) -> Features:
    """SIFT keypoints of a photo scaled to `side` px (none for a blank one), the `keypoints` strongest."""
    grey = np.asarray(image.convert("L"))
    scale = side / max(grey.shape)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=interpolation)
    if equalise:
        grey = cv2.equalizeHist(grey)
    # A detector per call (cheap): OpenCV does not promise one is safe to share between threads.
    found, descriptors = cv2.SIFT_create(nfeatures=keypoints).detectAndCompute(grey, None)
    if descriptors is None or len(found) == 0:
        return EMPTY
    points = np.asarray([k.pt for k in found], dtype=np.float32)
    return Features(points, np.clip(descriptors, 0, 255).astype(np.uint8))


def extract_both(image: Image.Image) -> tuple[Features, Features]:
    """The photo's features and its mirror image's (front cameras mirror; SIFT is not mirror-invariant)."""
    return extract(image), extract(ImageOps.mirror(image))


def root_sift(descriptors: np.ndarray) -> np.ndarray:
    """L1-normalised square roots: L2 distance between them is the Hellinger distance between SIFTs."""
    values = descriptors.astype(np.float32)
    return np.sqrt(values / np.maximum(values.sum(axis=1, keepdims=True), 1e-7))


def matched_points(query: Features, candidate: Features) -> tuple[np.ndarray, np.ndarray]:
    """Positions of distinctive one-to-one matches: (points in `query`, the same points in `candidate`)."""
    if len(query) < 2 or len(candidate) < 2:
        return EMPTY.points, EMPTY.points
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(
        root_sift(query.descriptors), root_sift(candidate.descriptors), k=2
    )
    best: dict[int, cv2.DMatch] = {}  # one query keypoint per candidate keypoint: the closest
    for pair in pairs:
        if len(pair) == 2 and pair[0].distance < RATIO * pair[1].distance:
            match = pair[0]
            if match.trainIdx not in best or match.distance < best[match.trainIdx].distance:
                best[match.trainIdx] = match
    matches = list(best.values())
    return (
        query.points[[m.queryIdx for m in matches]].reshape(-1, 2),
        candidate.points[[m.trainIdx for m in matches]].reshape(-1, 2),
    )


def inliers(query: Features, candidate: Features) -> int:
    """How many keypoints of `query` one similarity transform maps onto `candidate` (0: no evidence)."""
    source, target = matched_points(query, candidate)
    if len(source) < 3:
        return 0
    transform, mask = cv2.estimateAffinePartial2D(
        source, target, method=cv2.RANSAC, ransacReprojThreshold=REPROJECTION_PX
    )
    if transform is None or mask is None:
        return 0
    scale = float(np.sqrt(abs(np.linalg.det(transform[:, :2]))))
    if not SCALE_RANGE[0] < scale < SCALE_RANGE[1]:
        return 0
    return int(mask.sum())


def best_inliers(query: tuple[Features, Features], candidates: list[Features]) -> int:
    """The strongest verification of a photo (or its mirror image) against any of `candidates`."""
    return max((inliers(side, c) for c in candidates for side in query), default=0)


@dataclass
class StoredFeatures:
    """Many photos' features in two arrays, found by source (e.g. "<sha256>" or "<sha256>#blur")."""

    points: np.ndarray  # all keypoints, float32 (N×2), memory-mapped when loaded
    descriptors: np.ndarray  # uint8 (N×128), memory-mapped when loaded
    sources: list[str]
    starts: list[int]  # sources[i]'s keypoints are rows starts[i] .. starts[i+1] (or N)

    @classmethod
    def empty(cls) -> StoredFeatures:
        """No photos."""
        return cls(EMPTY.points, EMPTY.descriptors, [], [])

    @classmethod
    def of(cls, items: list[tuple[str, Features]]) -> StoredFeatures:
        """Concatenate (source, features) pairs."""
        starts, total = [], 0
        for _, features in items:
            starts.append(total)
            total += len(features)
        if not items:
            return cls.empty()
        return cls(
            np.concatenate([f.points for _, f in items]).astype(np.float32),
            np.concatenate([f.descriptors for _, f in items]).astype(np.uint8),
            [source for source, _ in items],
            starts,
        )

    def positions(self) -> dict[str, int]:
        """Source -> its number."""
        return {source: i for i, source in enumerate(self.sources)}

    def get(self, number: int) -> Features:
        """The features of the `number`-th source."""
        start = self.starts[number]
        end = self.starts[number + 1] if number + 1 < len(self.starts) else len(self.points)
        return Features(np.asarray(self.points[start:end]), np.asarray(self.descriptors[start:end]))

    def save(self, folder: Path, name: str) -> None:
        """`<name>.points.npy`, `<name>.descriptors.npy` and `<name>.json`, each written then renamed."""
        folder.mkdir(parents=True, exist_ok=True)
        for suffix, array in (("points", self.points), ("descriptors", self.descriptors)):
            tmp = folder / f".{name}.{suffix}.tmp.npy"
            np.save(tmp, array)
            tmp.replace(folder / f"{name}.{suffix}.npy")
        meta = folder / f".{name}.tmp.json"
        meta.write_text(json.dumps({"sources": self.sources, "starts": self.starts}))
        meta.replace(folder / f"{name}.json")

    @classmethod
    def load(cls, folder: Path, name: str) -> StoredFeatures:
        """Read back (descriptors memory-mapped: a search reads only what it verifies); empty if none."""
        if not (folder / f"{name}.json").exists():
            return cls.empty()
        meta = json.loads((folder / f"{name}.json").read_text())
        points = np.load(folder / f"{name}.points.npy", mmap_mode="r")
        descriptors = np.load(folder / f"{name}.descriptors.npy", mmap_mode="r")
        return cls(points, descriptors, list(meta["sources"]), list(meta["starts"]))
