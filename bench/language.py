"""Language detection benchmark (runtime A): its cost per message, its memory, and its English errors.

`.venv-rasa/bin/python -m bench.language [--candidates en,es,fr,...]`. Measures on one process:
importing lingua, building the detector with every candidate's models preloaded (what the Rasa server
does once when the model loads), the resident memory that adds, milliseconds per message one at a
time and in batches of 8 (bot/rasa_server/batch_parse.py), over every English example of the project
(data/nlu, tests/nlu); and how many of those examples each `min_confidence` would wrongly call foreign
(each one would hand an English customer to a person). Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

from bot.language.detection import LanguageSettings, judge, needs_detector
from bot.settings import PROJECT_ROOT

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def english_examples() -> list[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    texts: list[str] = []
    for folder in ("data/nlu", "tests/nlu"):
        for path in sorted((PROJECT_ROOT / folder).glob("*.yml")):
            texts += [m.get("text") for m in load_data(str(path)).training_examples if m.get("text")]
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", default=",".join(LanguageSettings().candidates))
    args = parser.parse_args()
    texts = english_examples()  # Rasa's loader first: its imports are not the detector's cost
    settings = LanguageSettings(candidates=tuple(args.candidates.split(",")))

    before = rss_mb()
    start = time.perf_counter()
    import lingua  # noqa: F401

    imported = time.perf_counter() - start
    from bot.language.lingua_detector import LinguaDetector

    start = time.perf_counter()
    detector = LinguaDetector(settings)
    built = time.perf_counter() - start
    memory = rss_mb() - before

    single = []
    for text in texts:
        start = time.perf_counter()
        detector.detect(text)
        single.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    for i in range(0, len(texts), 8):
        detector.detect_many(texts[i : i + 8])
    batched = (time.perf_counter() - start) * 1000 / len(texts)

    asked = needs_detector(texts, settings)
    found = dict(zip(asked, detector.confidences([texts[i] for i in asked]), strict=True))
    print(f"candidates {','.join(settings.candidates)}; {len(texts)} English examples, {len(asked)} asked")
    print(f"import lingua {imported * 1000:.0f} ms; build (preloaded) {built:.1f} s; +{memory:.0f} MB RSS")
    p95 = sorted(single)[int(len(single) * 0.95)]
    print(
        f"per message: mean {statistics.mean(single):.3f}, median {statistics.median(single):.3f},"
        f" p95 {p95:.3f} ms one at a time;"
        f" {batched:.3f} ms in batches of 8"
    )
    for threshold in THRESHOLDS:
        judged = LanguageSettings(settings.trained, settings.candidates, settings.min_letters, threshold)
        wrong = [t for i, t in enumerate(texts) if not judge(t, found.get(i), judged).trained]
        print(f"min_confidence {threshold}: {len(wrong)} English examples called foreign {wrong[:5]}")


if __name__ == "__main__":
    main()
