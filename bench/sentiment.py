"""Sentiment benchmark: VADER, the lexicon scorer and the learned model, on support messages and tweets.

(a) tests/sentiment/support_messages.yml: customer-support messages labelled by a person, never used
    to train or tune anything. (b) The 4,200 human-rated tweets from VADER's source distribution (the
    paper's protocol: mean rating / 4, neutral within ±0.05); the learned model trains on the odd tweet
    ids (data/sentiment/vader_tweets_train.tsv), so every system is compared on the even ids, and the
    full set is kept for VADER and the lexicon scorer. Throughput on one core, one message at a time;
    the learned model's includes computing the sentence embedding. Prints numbers.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from bot.sentiment.model import LearnedScorer, flag_names
from bot.sentiment.scorer import Lexicon, SentimentScorer, label_for
from bot.sentiment.training import (
    GRID,
    Corpus,
    load_examples,
    load_tweets,
    macro_f1,
    negative_recall,
    train,
    training_tweet,
    tune,
)

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path.home() / ".cache" / "loom-support-bot" / "vader-sdist"
ENCODER = ROOT / "models" / "encoder"
LEXICON = ROOT / "data" / "sentiment" / "lexicon.yml"
SYSTEMS = ("vader", "lexicon", "learned")


def accuracy(gold: list[str], predicted: list[str]) -> float:
    """Share of exact labels."""
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)


def support_set() -> tuple[list[str], list[str]]:
    """Texts and labels of the held-out support messages."""
    data = yaml.safe_load((ROOT / "tests" / "sentiment" / "support_messages.yml").read_text(encoding="utf-8"))
    return [m["text"] for m in data["messages"]], [m["label"] for m in data["messages"]]


def tweet_rows() -> list[tuple[int, float, str]]:
    """(id, mean rating, text) of VADER's human-rated tweets, from its sdist on PyPI (downloaded once)."""
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
    return [(int(r[0]), float(r[1]), r[2]) for r in rows]


def vader_tweets(half: str = "all") -> tuple[list[str], list[str]]:
    """Texts and labels of the tweets: "all", "held_out" (even ids) or "training" (odd ids)."""
    keep = {"all": lambda _: True, "held_out": lambda i: not training_tweet(i), "training": training_tweet}[
        half
    ]
    rows = [r for r in tweet_rows() if keep(r[0])]
    return [r[2] for r in rows], [label_for(r[1] / 4) for r in rows]


def throughput(score: Callable[[str], object], texts: list[str], seconds: float = 3.0) -> float:
    """Messages per second, one at a time, on this (single) core."""
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for text in texts:
            score(text)
        count += len(texts)
    return count / (time.perf_counter() - started)


def main() -> None:
    """Command line: run and print the benchmark (or, with --tune, the model's cross-validation table)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "sentiment_bench.json")
    parser.add_argument("--tune", action="store_true", help="cross-validate the learned model's settings")
    args = parser.parse_args()
    if args.tune:
        tune_table()
    else:
        run(args.out)


def tune_table(top: int = 20) -> None:
    """Cross-validation on the examples and the training tweets only: how the defaults were chosen."""
    from bot.nlu.encoder import SentenceEncoder

    lexicon = Lexicon.load(LEXICON)
    scorer, encoder = SentimentScorer(lexicon), SentenceEncoder(ENCODER)
    support = Corpus.build(*load_examples(), scorer, encoder)
    general = Corpus.build(*load_tweets(), scorer, encoder)
    results = tune(support, general, flag_names(lexicon))
    print(f"{len(support)} examples, {len(general)} training tweets; 5-fold cross-validation, 2 seeds")
    names = tuple(GRID)
    print(
        " ".join(f"{n:>18}" for n in names), f"{'acc':>6} {'neg rec':>8} {'F1':>6} {'tweets':>7}", flush=True
    )
    for settings, scores in results[:top]:
        print(
            " ".join(f"{getattr(settings, n):18g}" for n in names),
            f"{scores.accuracy:6.3f} {scores.negative_recall:8.3f} {scores.macro_f1:6.3f}",
            f"{scores.tweets_accuracy:7.3f}",
        )
    print(f"lexicon scorer on the training tweets: {results[0][1].lexicon_tweets_accuracy:.3f}")


def systems() -> dict[str, Callable[[str], str]]:
    """Each system as text -> label; the learned model is trained here, as `rasa train` trains it."""
    from bot.nlu.encoder import SentenceEncoder

    lexicon = Lexicon.load(LEXICON)
    encoder = SentenceEncoder(ENCODER)  # one thread, as in the Rasa server
    learned = LearnedScorer(SentimentScorer(lexicon), train(lexicon, encoder))
    vader, ours = SentimentIntensityAnalyzer(), SentimentScorer(lexicon)
    return {
        "vader": lambda text: label_for(vader.polarity_scores(text)["compound"]),
        "lexicon": lambda text: ours.score(text).label,
        "learned": lambda text: learned.score(text, encoder.encode([text])[0]).label,
    }


def run(out: Path = ROOT / "results" / "sentiment_bench.json") -> dict[str, dict[str, float]]:
    """Run the benchmark, print a table, write JSON to `out`."""
    predictors = systems()
    support_texts, support_gold = support_set()
    sets = {"support": (support_texts, support_gold), "tweets_held_out": vader_tweets("held_out")}
    results: dict[str, dict[str, float]] = {}
    for system, predict in predictors.items():
        row: dict[str, float] = {}
        for name, (texts, gold) in sets.items():
            predicted = [predict(t) for t in texts]
            row[f"{name}_accuracy"] = round(accuracy(gold, predicted), 4)
            row[f"{name}_macro_f1"] = round(macro_f1(gold, predicted), 4)
            if name == "support":
                row["support_negative_recall"] = round(negative_recall(gold, predicted), 4)
        if system != "learned":  # trained on none of them: the whole set, as before
            texts, gold = vader_tweets("all")
            row["tweets_all_accuracy"] = round(accuracy(gold, [predict(t) for t in texts]), 4)
        row["messages_per_s"] = round(throughput(predict, support_texts))
        results[system] = row
    tweets = len(sets["tweets_held_out"][0])
    print(f"support: {len(support_texts)} held-out messages; tweets: {tweets} (even ids)")
    print(f"{'system':8} {'accuracy':>9} {'neg recall':>11} {'macro F1':>9} {'tweets acc':>11} {'msg/s':>8}")
    for system, row in results.items():
        print(
            f"{system:8} {row['support_accuracy']:9.3f} {row['support_negative_recall']:11.3f}"
            f" {row['support_macro_f1']:9.3f} {row['tweets_held_out_accuracy']:11.3f}"
            f" {row['messages_per_s']:8.0f}"
        )
    print("(one core, one message at a time; the learned model's figure includes the sentence embedding)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
