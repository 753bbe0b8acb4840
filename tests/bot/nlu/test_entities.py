"""Catalogue, pattern and NER entities, and how they merge with DIET's (runtime A, real spaCy)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.importers.importer import TrainingDataImporter
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.entities import CatalogEntityExtractor, merge_entities, plural_forms

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def extractor(tmp_path_factory) -> CatalogEntityExtractor:
    """The component trained on the project's real lookup tables and regexes."""
    storage = LocalModelStorage(tmp_path_factory.mktemp("model"))
    resource = Resource("catalog_entities")
    component = CatalogEntityExtractor.create(
        CatalogEntityExtractor.get_default_config(), storage, resource, execution_context=None
    )
    importer = TrainingDataImporter.load_from_dict(training_data_paths=[str(ROOT / "data" / "nlu")])
    component.train(importer.get_nlu_data())
    return CatalogEntityExtractor.load(
        CatalogEntityExtractor.get_default_config(), storage, resource, execution_context=None
    )


def found(extractor, spacy_model, text: str) -> set[tuple[str, str]]:
    return {(e["entity"], e["value"]) for e in extractor.extract(text, spacy_model)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("where is order #104523??", {("order_id", "104523")}),
        ("my email is jess.m+shop@gmail.com", {("email", "jess.m+shop@gmail.com")}),
        ("do u have the Linen Shirts in NAVY", {("product", "linen shirt"), ("color", "navy")}),
        (
            "chelsea boots size 39 in black",
            {("product", "chelsea boots"), ("size", "39"), ("color", "black")},
        ),
        ("hoodie in M pls", {("product", "hoodie"), ("size", "m")}),
        ("hoodie in XL", {("product", "hoodie"), ("size", "xl")}),
    ],
)
def test_finds_catalogue_and_pattern_entities(extractor, spacy_model, text, expected):
    assert expected <= found(extractor, spacy_model, text)


@pytest.mark.parametrize(
    "text",
    ["i waited 40 mins on hold", "it's been 3 weeks", "i m so annoyed", "order 1045234 or 0104523"],
)
def test_no_sizes_or_order_numbers_out_of_context(extractor, spacy_model, text):
    kinds = {entity for entity, _ in found(extractor, spacy_model, text)}
    assert not kinds & {"size", "order_id"}


def test_longest_catalogue_phrase_wins(extractor, spacy_model):
    products = [v for e, v in found(extractor, spacy_model, "the leather crossbody bag") if e == "product"]
    assert products == ["leather crossbody bag"]


def test_dates_and_money_from_the_pretrained_model(extractor, spacy_model):
    kinds = {e for e, _ in found(extractor, spacy_model, "I was charged $40 twice on March 3rd")}
    assert {"amount", "date"} <= kinds


def test_order_number_is_not_money(extractor, spacy_model):
    entities = found(extractor, spacy_model, "refund for #110245 please")
    assert ("order_id", "110245") in entities
    assert not [e for e in entities if e[0] == "amount"]


def test_process_replaces_overlapping_learned_entities(extractor, spacy_model):
    message = Message.build("cancel 104523")
    message.set(
        "entities", [{"entity": "product", "start": 7, "end": 11, "value": "1045", "extractor": "DIET"}]
    )
    extractor.process([message], spacy_model)
    assert [(e["entity"], e["value"]) for e in message.get("entities")] == [("order_id", "104523")]


def test_merge_keeps_learned_entities_that_do_not_overlap():
    learned = [{"entity": "product", "start": 0, "end": 6, "value": "hoddie"}]
    rule = [{"entity": "size", "start": 10, "end": 11, "value": "m"}]
    assert [e["entity"] for e in merge_entities(learned, rule)] == ["product", "size"]


@pytest.mark.parametrize(
    ("phrase", "plural"),
    [
        ("linen shirt", "linen shirts"),
        ("dress", "dresses"),
        ("hoodie", "hoodies"),
        ("tee", "tees"),
        ("39", None),
    ],
)
def test_plural_forms(phrase, plural):
    assert plural_forms(phrase) == ([plural] if plural else [])


def test_parsing_for_ner_alone_finds_what_the_whole_pipeline_finds(extractor, spacy_model):
    """The component skips tagging and lemmatising; on every training example nothing changes."""
    importer = TrainingDataImporter.load_from_dict(training_data_paths=[str(ROOT / "data" / "nlu")])
    texts = [m.get("text") for m in importer.get_nlu_data().training_examples if m.get("text")]
    assert len(texts) > 500
    assert extractor._not_for_ner(spacy_model.model) == ["tok2vec", "tagger", "attribute_ruler", "lemmatizer"]
    skipping = [extractor.extract(text, spacy_model) for text in texts]
    extractor._skipped = (spacy_model.model, [])  # the whole pipeline, as before
    whole = [extractor.extract(text, spacy_model) for text in texts]
    extractor._skipped = None
    assert skipping == whole
