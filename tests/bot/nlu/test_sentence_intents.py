"""The sentence-embedding featurizer and the intent classifier on top of it (runtime A, real encoder).

The encoder is the one `make train` exports to models/encoder (all-MiniLM-L6-v2 as ONNX).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.encoder import EncoderMissing, SentenceEncoder, encoder_digest
from bot.nlu.intent_classifier import NgramWeights, SentenceIntentClassifier, char_analyzer
from bot.nlu.sentence_features import SentenceEmbeddingFeaturizer

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[3]
ENCODER = ROOT / "models" / "encoder"
EXAMPLES = {
    "discount_inquiry": [
        "do you have any discount codes",
        "student discount?",
        "any sales on",
        "promo code pls",
    ],
    "order_status": ["where is my order", "tracking number?", "has my parcel shipped", "when will it arrive"],
    "request_human": ["let me talk to a person", "real human please", "can i speak to someone", "agent"],
    "greet": ["hi", "hello there", "good morning", "hey"],
    "thank": ["thanks", "thank you so much", "cheers", "appreciate it"],
}


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder(ENCODER)


def training_data() -> TrainingData:
    return TrainingData([Message.build(text, intent) for intent, texts in EXAMPLES.items() for text in texts])


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> tuple[SentenceEmbeddingFeaturizer, SentenceIntentClassifier]:
    """Both components trained on EXAMPLES and loaded back from the model storage."""
    storage = LocalModelStorage(tmp_path_factory.mktemp("model"))
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "encoder": str(ENCODER)}
    featurizer_resource = Resource("sentence_features")
    SentenceEmbeddingFeaturizer.create(config, storage, featurizer_resource, None).train(TrainingData())
    featurizer = SentenceEmbeddingFeaturizer.load(config, storage, featurizer_resource, None)
    data = featurizer.process_training_data(training_data())
    classifier_config = {**SentenceIntentClassifier.get_default_config(), "folds": 2}
    resource = Resource("intents")
    SentenceIntentClassifier.create(classifier_config, storage, resource, None).train(data)
    return featurizer, SentenceIntentClassifier.load(classifier_config, storage, resource, None)


def test_vectors_are_unit_length_and_mean_what_the_words_mean(encoder):
    coupon, discount, parcel = encoder.encode(["got a coupon?", "any discount codes", "where's my parcel"])
    assert np.allclose([np.linalg.norm(v) for v in (coupon, discount, parcel)], 1.0, atol=1e-4)
    assert coupon @ discount > coupon @ parcel + 0.2


def test_a_vector_does_not_depend_on_the_batch(encoder):
    alone = encoder.encode(["can i talk to a real person please"])[0]
    among = encoder.encode(["hi", "can i talk to a real person please", "a much longer message " * 8])[1]
    assert float(alone @ among) > 0.9999


def test_a_missing_export_says_how_to_make_it(tmp_path):
    with pytest.raises(EncoderMissing, match="make train"):
        SentenceEncoder(tmp_path)
    with pytest.raises(EncoderMissing, match="make train"):
        encoder_digest(tmp_path)


def test_the_encoder_is_stored_in_the_model_and_serves_without_the_export(tmp_path):
    export = tmp_path / "export"
    shutil.copytree(ENCODER, export)
    storage = LocalModelStorage(tmp_path)
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "encoder": str(export)}
    resource = Resource("sentence_features")
    SentenceEmbeddingFeaturizer.create(config, storage, resource, None).train(TrainingData())
    shutil.rmtree(export)
    featurizer = SentenceEmbeddingFeaturizer.load(config, storage, resource, None)
    message = Message.build("where is my order")
    featurizer.process([message])
    (feature,) = message.features
    assert feature.is_dense() and feature.type == "sentence" and feature.features.shape == (1, 384)


def test_a_new_export_changes_the_fingerprint(tmp_path):
    export = tmp_path / "export"
    shutil.copytree(ENCODER, export)
    before = SentenceEmbeddingFeaturizer.fingerprint_addon({"encoder": str(export)})
    (export / "tokenizer.json").write_text((export / "tokenizer.json").read_text() + " ")
    assert SentenceEmbeddingFeaturizer.fingerprint_addon({"encoder": str(export)}) != before


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("got a voucher?", "discount_inquiry"),  # no word of it in the examples
        ("is my package on its way", "order_status"),
        ("i need a human being", "request_human"),
        ("hiya", "greet"),
        ("ta very much", "thank"),
    ],
)
def test_unseen_phrasings_get_their_intent(pipeline, text, intent):
    featurizer, classifier = pipeline
    message = Message.build(text)
    classifier.process(featurizer.process([message]))
    assert message.get("intent")["name"] == intent
    ranking = message.get("intent_ranking")
    assert sorted({r["name"] for r in ranking}) == sorted(EXAMPLES)
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-4


def test_the_classifier_needs_the_sentence_feature(pipeline):
    _, classifier = pipeline
    with pytest.raises(ValueError, match="SentenceEmbeddingFeaturizer"):
        classifier.process([Message.build("hello")])


def test_ngram_weights_are_scikit_learns_tfidf():
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["wheres my oder", "where is my order pls", "discount code??"]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True).fit(texts)
    weights = NgramWeights(vectorizer.vocabulary_, vectorizer.idf_, 1, 4)
    for text in [*texts, "my oder is late"]:
        expected = vectorizer.transform([text]).toarray()[0]
        got = np.zeros_like(expected)
        indices, values = weights.of(text)
        got[indices] = values
        assert np.allclose(got, expected, atol=1e-6)
    assert len(char_analyzer(1, 4)("ab")) > 0


def test_the_fingerprint_of_a_node_restored_from_rasas_cache_is_not_an_error():
    assert SentenceEmbeddingFeaturizer.fingerprint_addon({"output": object()}) is None
