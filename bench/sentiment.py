"""Sentiment benchmark: our support-aware scorer against VADER, on support messages and on tweets.

(a) tests/sentiment/support_messages.yml: customer-support messages labelled by a person, never used
    to build the lexicon. (b) The 4,200 human-rated tweets from VADER's source distribution (the
    paper's protocol: mean rating / 4, neutral within ±0.05). Throughput on one core. Prints numbers.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import yaml
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from bot.sentiment.scorer import Lexicon, SentimentScorer, label_for

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path.home() / ".cache" / "loom-support-bot" / "vader-sdist"
LABELS = ("negative", "neutral", "positive")


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    """Unweighted mean of the per-class F1 scores."""
    scores = []
    for label in LABELS:
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, predicted, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def accuracy(gold: list[str], predicted: list[str]) -> float:
    """Share of exact labels."""
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)


def support_set() -> tuple[list[str], list[str]]:
    """Texts and labels of the held-out support messages."""
    data = yaml.safe_load((ROOT / "tests" / "sentiment" / "support_messages.yml").read_text(encoding="utf-8"))
    return [m["text"] for m in data["messages"]], [m["label"] for m in data["messages"]]


def vader_tweets() -> tuple[list[str], list[str]]:
    """VADER's human-rated tweets, from its source distribution on PyPI (downloaded once, cached)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    sdist = CACHE / "vaderSentiment-3.3.2.tar.gz"
    if not sdist.exists():
        print("downloading vaderSentiment's source distribution (the tweet ratings ship only there) ...")
        command = [sys.executable, "-m", "pip", "download", "-q", "vaderSentiment==3.3.2"]
        command += ["--no-binary", ":all:", "--no-deps", "-d", str(CACHE)]
        subprocess.run(command, check=True)
    with tarfile.open(sdist) as outer:
        inner_bytes = outer.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
        assert inner_bytes is not None
        with tarfile.open(fileobj=io.BytesIO(inner_bytes.read())) as inner:
            member = inner.extractfile("hutto_ICWSM_2014/tweets_GroundTruth.txt")
            assert member is not None
            lines = member.read().decode("utf-8", errors="replace").splitlines()
    rows = [line.split("\t") for line in lines if line.strip()]
    return [r[2] for r in rows], [label_for(float(r[1]) / 4) for r in rows]


def throughput(score: object, texts: list[str], seconds: float = 3.0) -> float:
    """Messages per second, one at a time, on this (single) core."""
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for text in texts:
            score(text)  # type: ignore[operator]
        count += len(texts)
    return count / (time.perf_counter() - started)


def main() -> None:
    """Command line: run and print the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "sentiment_bench.json")
    run(parser.parse_args().out)


def run(out: Path = ROOT / "results" / "sentiment_bench.json") -> dict[str, dict[str, float]]:
    """Run the benchmark, print a table, write JSON to `out`."""
    ours = SentimentScorer(Lexicon.load(ROOT / "data" / "sentiment" / "lexicon.yml"))
    vader = SentimentIntensityAnalyzer()
    systems = {
        "ours": lambda text: ours.score(text).label,
        "vader": lambda text: label_for(vader.polarity_scores(text)["compound"]),
    }
    results: dict[str, dict[str, float]] = {}
    for name, (texts, gold) in {"support_messages": support_set(), "vader_tweets": vader_tweets()}.items():
        for system, predict in systems.items():
            predicted = [predict(t) for t in texts]
            results[f"{name}/{system}"] = {
                "n": len(texts),
                "accuracy": round(accuracy(gold, predicted), 4),
                "macro_f1": round(macro_f1(gold, predicted), 4),
            }
    texts, _ = support_set()
    results["throughput"] = {
        "ours_msgs_per_s": round(throughput(ours.score, texts)),
        "vader_msgs_per_s": round(throughput(vader.polarity_scores, texts)),
    }
    print(f"{'set / system':28} {'n':>5} {'accuracy':>9} {'macro F1':>9}")
    for key, row in results.items():
        if key != "throughput":
            print(f"{key:28} {row['n']:5d} {row['accuracy']:9.3f} {row['macro_f1']:9.3f}")
    speed = results["throughput"]
    print(f"throughput (one core, one message at a time): ours {speed['ours_msgs_per_s']} msg/s, ", end="")
    print(f"VADER {speed['vader_msgs_per_s']} msg/s")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
