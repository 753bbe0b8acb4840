"""Vector search: exact and HNSW agree, stored vectors round-trip, products are grouped."""

from __future__ import annotations

import numpy as np

from bot.catalog.photo_config import PhotoConfig
from bot.catalog.vector_index import ExactIndex, HnswIndex, StoredVectors, build_index
from bot.catalog.vector_search import Match, candidates, verdict


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


def test_rows_are_grouped_into_candidate_products_with_their_photos_closest_first():
    hits = [(1, "a#blur", 0.7), (2, "b", 0.9), (1, "c", 0.95), (1, "a", 0.6), (3, "d", 0.1)]
    assert candidates(hits, 2) == [Match(1, 0.95, photos=("c", "a")), Match(2, 0.9, photos=("b",))]


def test_verdicts_follow_the_calibrated_confidence_and_the_levels():
    config = PhotoConfig(show_one=0.87, runner_up_below=0.5, show_several=0.3)

    def kind(*confidences: float) -> str:
        return verdict([Match(n, 0.5, confidence=c) for n, c in enumerate(confidences)], config).kind

    assert kind(0.95, 0.2) == "confident"
    assert kind(0.95, 0.6) == "several"  # two products both likely: the customer chooses
    assert kind(0.6) == "several"
    assert kind(0.29, 0.1) == "none" and kind() == "none"
    # Ranked by confidence, not by the embedding's order: the verified product comes first.
    shown = verdict([Match(1, 0.9, confidence=0.4), Match(2, 0.6, confidence=0.95)], config)
    assert shown.kind == "confident" and shown.matches[0].product_id == 2
