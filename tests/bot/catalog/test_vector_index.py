"""Vector search: exact and HNSW agree, stored vectors round-trip, products are grouped."""

from __future__ import annotations

import numpy as np

from bot.catalog.vector_index import ExactIndex, HnswIndex, StoredVectors, build_index
from bot.catalog.vector_search import Match, group_by_product, verdict


def unit_rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_exact_search_finds_the_row_itself_first():
    vectors = unit_rows(500, 64)
    index = ExactIndex(vectors, np.arange(500) + 1000)
    hits = index.search(vectors[42], 3)
    assert hits[0].key == 1042 and abs(hits[0].score - 1.0) < 1e-5
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_hnsw_recall_against_exact_search():
    vectors = unit_rows(3000, 64, seed=1)
    keys = np.arange(3000)
    exact, approx = ExactIndex(vectors, keys), HnswIndex(vectors, keys)
    queries = unit_rows(100, 64, seed=2)
    overlap = [
        len({h.key for h in exact.search(q, 10)} & {h.key for h in approx.search(q, 10)}) / 10
        for q in queries
    ]
    assert np.mean(overlap) >= 0.95


def test_index_kind_is_chosen_by_size():
    assert build_index(unit_rows(10, 8), np.arange(10)).kind == "exact"
    assert build_index(unit_rows(10, 8), np.arange(10), kind="hnsw").kind == "hnsw"
    assert build_index(np.zeros((0, 8), np.float32), np.zeros(0, np.int64)).search(np.ones(8), 3) == []


def test_stored_vectors_round_trip(tmp_path):
    stored = StoredVectors(unit_rows(5, 8), np.array([3, 3, 4, 5, 6]), ["a", "b", "c", "d", "e"])
    stored.save(tmp_path, "image")
    again = StoredVectors.load(tmp_path, "image", 8)
    assert np.allclose(again.vectors, stored.vectors) and again.keys.tolist() == [3, 3, 4, 5, 6]
    assert StoredVectors.load(tmp_path / "none", "image", 8).vectors.shape == (0, 8)


def test_grouping_and_verdicts():
    assert group_by_product([(1, 0.7), (2, 0.9), (1, 0.95)], 5) == [Match(1, 0.95), Match(2, 0.9)]
    assert verdict([Match(1, 0.92), Match(2, 0.70)]).kind == "confident"
    assert verdict([Match(1, 0.92), Match(2, 0.91)]).kind == "several"
    assert verdict([Match(1, 0.70)]).kind == "several"
    assert verdict([Match(1, 0.30)]).kind == "none"
