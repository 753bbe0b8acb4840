"""Nearest-neighbour search over unit vectors: exact for normal catalogues, HNSW for very large ones.

Exact search is a matrix product (perfect, and p99 under 20 ms at 100k vectors here); above
`ANN_THRESHOLD` vectors an hnswlib HNSW graph answers in about a millisecond with recall measured
against exact search (bench/photo_search.py). Both sit behind `VectorIndex`, chosen by size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

ANN_THRESHOLD = 100_000  # exact search stays under 20 ms p99 up to here (bench/photo_search.py)
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 256


@dataclass(frozen=True)
class Hit:
    """A neighbour: its row's key (e.g. product id), cosine similarity, and row number in the index."""

    key: int
    score: float
    row: int


class VectorIndex(Protocol):
    """Top-k cosine neighbours of a query."""

    kind: str

    def search(self, query: np.ndarray, k: int) -> list[Hit]:
        """The `k` nearest rows, best first."""


class ExactIndex:
    """Brute force: one matrix-vector product."""

    kind = "exact"

    def __init__(self, vectors: np.ndarray, keys: np.ndarray) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.keys = keys

    def search(self, query: np.ndarray, k: int) -> list[Hit]:
        """Cosine similarity = dot product of unit vectors."""
        if len(self.keys) == 0:
            return []
        scores = self.vectors @ query.astype(np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [Hit(int(self.keys[i]), float(scores[i]), int(i)) for i in top]


class HnswIndex:
    """Approximate search with hnswlib (inner product on unit vectors = cosine)."""

    kind = "hnsw"

    def __init__(self, vectors: np.ndarray, keys: np.ndarray) -> None:
        import hnswlib

        self.keys = keys
        self._index = hnswlib.Index(space="ip", dim=vectors.shape[1])
        self._index.init_index(max_elements=max(1, len(keys)), ef_construction=HNSW_EF_CONSTRUCTION, M=HNSW_M)
        if len(keys):
            self._index.add_items(vectors.astype(np.float32), np.arange(len(keys)))
        self._index.set_ef(HNSW_EF_SEARCH)

    def search(self, query: np.ndarray, k: int) -> list[Hit]:
        """Hnswlib returns distances 1 - ip."""
        if len(self.keys) == 0:
            return []
        k = min(k, len(self.keys))
        rows, distances = self._index.knn_query(query.astype(np.float32).reshape(1, -1), k=k)
        return [
            Hit(int(self.keys[r]), float(1.0 - d), int(r)) for r, d in zip(rows[0], distances[0], strict=True)
        ]


def build_index(vectors: np.ndarray, keys: np.ndarray, kind: str = "auto") -> VectorIndex:
    """Exact below ANN_THRESHOLD vectors, HNSW above (or as asked)."""
    if kind == "auto":
        kind = "hnsw" if len(keys) > ANN_THRESHOLD else "exact"
    return HnswIndex(vectors, keys) if kind == "hnsw" else ExactIndex(vectors, keys)


@dataclass
class StoredVectors:
    """Vectors with their keys and what each row was made from, as saved on disk."""

    vectors: np.ndarray
    keys: np.ndarray  # product id per row
    sources: list[str]  # e.g. the image's sha256, or "text"

    def save(self, folder: Path, name: str) -> None:
        """`<name>.npy` and `<name>.json`, written then renamed (readers never see half a file)."""
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.tmp.npy"
        np.save(tmp, self.vectors.astype(np.float32))
        tmp.replace(folder / f"{name}.npy")
        meta = folder / f".{name}.tmp.json"
        meta.write_text(json.dumps({"keys": self.keys.tolist(), "sources": self.sources}))
        meta.replace(folder / f"{name}.json")

    @classmethod
    def load(cls, folder: Path, name: str, dim: int) -> StoredVectors:
        """Read back; empty when nothing was saved yet."""
        if not (folder / f"{name}.npy").exists():
            return cls(np.zeros((0, dim), dtype=np.float32), np.zeros(0, dtype=np.int64), [])
        meta = json.loads((folder / f"{name}.json").read_text())
        vectors = np.load(folder / f"{name}.npy")
        return cls(vectors, np.asarray(meta["keys"], dtype=np.int64), list(meta["sources"]))
