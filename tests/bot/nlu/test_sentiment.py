"""The sentiment NLU component: trained from the YAML files, stored in the model (runtime A).

Trained on a few examples and tweets written here, with the real exported encoder, and run behind the
real spaCy pipeline, tokenizer and sentence featurizer, as in config.yml.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.sentence_features import SentenceEmbeddingFeaturizer
from bot.nlu.sentiment import MODEL_FILE, SentimentAnalyzer
from bot.nlu.spacy_nlp import SpacyNLP
from bot.sentiment.scorer import Lexicon, SentimentScorer

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[3]
LEXICON = ROOT / "data" / "sentiment" / "lexicon.yml"
ENCODER = ROOT / "models" / "encoder"
EXAMPLES = {
    "negative": [
        "still no refund after three weeks",
        "the parcel never came and nobody answers",
        "great, delivered to the wrong house again",
        "the zip broke the first time I wore it",
        "you charged me twice and ignore my emails",
        "third time asking where my order is",
    ],
    "neutral": [
        "where is my order",
        "can I talk to a person please",
        "do you ship to france",
        "my order number is 104523",
        "can I pay with paypal please?",
        "how do returns work",
    ],
    "positive": [
        "love it, thank you so much!",
        "arrived early and it's perfect",
        "brilliant service, thanks for sorting it",
        "so happy with my new boots",
        "fast delivery and lovely packaging",
        "you're all stars",
    ],
}
TWEETS = [(1, -2.5, "my train is late again, so annoying"), (3, 0.0, "going to the shops later")]
TWEETS += [(5, 2.6, "what a beautiful sunny day"), (7, -2.0, "I hate mondays"), (9, 2.2, "best holiday ever")]


def write_training_files(folder: Path, lexicon: Path = LEXICON) -> dict[str, str]:
    """A small examples YAML and tweets file; the config that points at them."""
    examples = folder / "examples.yml"
    lines = ["examples:"]
    for label, texts in EXAMPLES.items():
        lines += [f'  - text: "{text}"\n    label: {label}' for text in texts]
    examples.write_text("\n".join(lines) + "\n")
    tweets = folder / "tweets.tsv"
    tweets.write_text("# id, mean rating, text\n" + "".join(f"{i}\t{r}\t{t}\n" for i, r, t in TWEETS))
    return {
        "lexicon": str(lexicon),
        "examples": str(examples),
        "tweets": str(tweets),
        "encoder": str(ENCODER),
    }


def trained(tmp_path: Path, **files: str) -> tuple[SentimentAnalyzer, dict[str, str]]:
    config = {**SentimentAnalyzer.get_default_config(), **write_training_files(tmp_path), **files}
    (tmp_path / "model").mkdir(exist_ok=True)
    storage = LocalModelStorage(tmp_path / "model")
    resource = Resource("sentiment")
    SentimentAnalyzer.create(config, storage, resource, execution_context=None).train(TrainingData())
    return SentimentAnalyzer.load(config, storage, resource, execution_context=None), config


@pytest.fixture(scope="module")
def featurize(spacy_model, tmp_path_factory):
    """spaCy, its tokenizer and the sentence featurizer, as in config.yml: messages in, featurized out."""
    storage = LocalModelStorage(tmp_path_factory.mktemp("featurizer"))
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "encoder": str(ENCODER)}
    resource = Resource("sentence_features")
    SentenceEmbeddingFeaturizer.create(config, storage, resource, None).train(TrainingData())
    featurizer = SentenceEmbeddingFeaturizer.load(config, storage, resource, None)
    nlp = SpacyNLP(spacy_model, SpacyNLP.get_default_config())
    tokenizer = SpacyTokenizer(SpacyTokenizer.get_default_config())

    def run(texts: list[str]) -> list[Message]:
        messages = [Message.build(text) for text in texts]
        return featurizer.process(tokenizer.process(nlp.process(messages, spacy_model)))

    return run


@pytest.fixture(scope="module")
def component(tmp_path_factory) -> SentimentAnalyzer:
    return trained(tmp_path_factory.mktemp("sentiment"))[0]


def test_every_message_gets_the_learned_sentiment(component, featurize):
    messages = component.process(
        featurize(
            ["it's been 3 weeks and still no refund", "can I speak to someone please", "love it, thanks!!"]
        )
    )
    first, second, third = (m.get("sentiment") for m in messages)
    assert first["label"] == "negative" and {"money", "waiting"} <= set(first["signals"])
    assert second["label"] == "neutral" and third["label"] == "positive"
    assert first["score"] < 0 < third["score"]
    assert "sentiment" in messages[0].as_dict(only_output_properties=True)


def test_the_featurizers_vector_is_what_is_scored(component, featurize):
    """The same text with another sentence vector scores differently: no second encoding."""
    [complaint] = featurize(["the parcel never came and nobody answers"])
    [thanks] = featurize(["brilliant service, thanks for sorting it"])
    posing = Message.build("the parcel never came and nobody answers")
    vector = thanks.get_dense_features(TEXT, ["SentenceEmbeddingFeaturizer"])[1].features
    posing.add_features(Features(vector, "sentence", TEXT, "SentenceEmbeddingFeaturizer"))
    component.process([complaint, posing])
    assert complaint.get("sentiment")["score"] != posing.get("sentiment")["score"]


def test_without_the_featurizer_the_lexicon_scores_and_a_warning_says_so_once(component, caplog):
    lexicon_scorer = SentimentScorer(Lexicon.load(LEXICON))
    texts = ["still waiting for my refund!!", "thank you so much"]
    with caplog.at_level(logging.WARNING, logger="bot.nlu.sentiment"):
        fresh = SentimentAnalyzer(
            component._config, None, None, Lexicon.load(LEXICON), component._learned.model
        )
        first = fresh.process([Message.build(t) for t in texts])
        fresh.process([Message.build("another one")])
    assert [m.get("sentiment") for m in first] == [lexicon_scorer.score(t).to_dict() for t in texts]
    assert sum("SentenceEmbeddingFeaturizer" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("key", ["lexicon", "examples", "tweets"])
def test_edits_to_any_training_file_change_the_fingerprint_so_rasa_retrains(tmp_path, key):
    config = write_training_files(tmp_path)
    copy = tmp_path / "lexicon.yml"
    shutil.copy(LEXICON, copy)
    config["lexicon"] = str(copy)
    before = SentimentAnalyzer.fingerprint_addon(config)
    Path(config[key]).write_text(Path(config[key]).read_text() + "\n# edited\n")
    assert SentimentAnalyzer.fingerprint_addon(config) != before


def test_a_node_restored_from_rasas_cache_has_no_files_to_fingerprint():
    assert SentimentAnalyzer.fingerprint_addon({"output": "sentiment"}) is None


def test_lexicon_and_model_are_stored_in_the_model(tmp_path, featurize):
    lexicon = tmp_path / "lexicon.yml"
    lexicon.write_text("phrases:\n  zorp: -3.0\n")
    component, config = trained(tmp_path, lexicon=str(lexicon))
    for key in ("lexicon", "examples", "tweets"):
        Path(config[key]).unlink()  # serving needs none of the files any more
    [featurized] = component.process(featurize(["thank you, lovely service"]))
    assert featurized.get("sentiment")["label"] == "positive"
    plain = component.process([Message.build("zorp")])[0]  # no sentence vector: the stored lexicon
    assert plain.get("sentiment")["label"] == "negative"


def test_a_model_trained_before_the_learned_part_still_serves_the_lexicon(tmp_path, featurize):
    component, config = trained(tmp_path)
    storage, resource = component._model_storage, component._resource
    with storage.read_from(resource) as path:
        (Path(path) / MODEL_FILE).unlink()
    old = SentimentAnalyzer.load(config, storage, resource, execution_context=None)
    [message] = old.process(featurize(["it's been 3 weeks and still no refund"]))
    assert (
        message.get("sentiment") == SentimentScorer(Lexicon.load(LEXICON)).score(message.get(TEXT)).to_dict()
    )


def test_a_broken_lexicon_fails_training(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("patterns:\n  - {name: broken, regex: '(', valence: -1}\n")
    with pytest.raises(ValueError, match="broken"):
        trained(tmp_path, lexicon=str(broken))


def test_an_example_without_a_valid_label_fails_training(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("examples:\n  - text: meh\n    label: grumpy\n")
    with pytest.raises(ValueError, match="grumpy"):
        trained(tmp_path, examples=str(bad))


def test_scores_of_a_batch_match_one_by_one(component, featurize):
    texts = ["where is my order", "the zip broke, so annoying", "perfect, thank you"]
    together = [m.get("sentiment") for m in component.process(featurize(texts))]
    alone = [component.process(featurize([t]))[0].get("sentiment") for t in texts]
    assert [s["label"] for s in together] == [s["label"] for s in alone]
    assert np.allclose([s["score"] for s in together], [s["score"] for s in alone], atol=1e-3)
