"""Catalogue, pattern and NER entities, and how they merge with DIET's (runtime A, real spaCy)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.importers.importer import TrainingDataImporter
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.entities import CatalogEntityExtractor, merge_entities, plural_forms

ROOT = Path(__file__).resolve().parents[3]
# Thursday 12 March 2026, mid-afternoon in UTC: relative dates are counted from it.
REFERENCE = dt.datetime(2026, 3, 12, 15, 0, tzinfo=dt.timezone.utc)


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


def dates(extractor, spacy_model, text: str) -> list[tuple[str, str, str]]:
    """(words, value, kind) of each date entity, with REFERENCE as the message's time."""
    return [
        (e["additional_info"]["text"], e["value"], e["additional_info"]["kind"])
        for e in sorted(extractor.extract(text, spacy_model, reference=REFERENCE), key=lambda e: e["start"])
        if e["entity"] == "date"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I ordered it yesterday", [("yesterday", "2026-03-11", "date")]),
        ("I ordered last friday", [("last friday", "2026-03-06", "date")]),
        ("ordered on monday and still nothing", [("monday", "2026-03-09", "date")]),
        ("next tuesday please", [("next tuesday", "2026-03-17", "date")]),
        ("it arrived 3 days ago", [("3 days ago", "2026-03-09", "date")]),
        ("returned the ankle boots a month ago", [("a month ago", "2026-02-12", "date")]),
        ("I was charged $40 twice on March 3rd", [("March 3rd", "2026-03-03", "date")]),
        ("ordered it 3 march", [("3 march", "2026-03-03", "date")]),
        ("got a puffer jacket off you last week", [("last week", "2026-03-02", "date")]),
        ("it's been 3 weeks", [("3 weeks", "P3W", "duration")]),
        ("waited 10 days for nothing", [("10 days", "P10D", "duration")]),
        ("it's been two weeks", [("two weeks", "P2W", "duration")]),
        # Forms spaCy does not tag DATE, found by bot/nlu/dates.py.
        ("it was delivered on 03/12/2026", [("03/12/2026", "2026-12-03", "date")]),
        ("my order from 12/03 hasn't arrived", [("12/03", "2026-03-12", "date")]),
        # "by" makes an undated day the coming one.
        (
            "if i order today could it arrive by friday",
            [("today", "2026-03-12", "date"), ("friday", "2026-03-13", "date")],
        ),
    ],
)
def test_dates_are_normalised(extractor, spacy_model, text, expected):
    assert dates(extractor, spacy_model, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 48213",
        "where is order 104523",
        "do you have it in black",
        "weeks",
        "STILL NO REFUND!!! its been weeks",
        "will there be more off on black friday or cyber monday",
        "10/10 would recommend",
        "chelsea boots size 10",
        "£40 off",
    ],
)
def test_no_date_from_numbers_colours_or_sales(extractor, spacy_model, text):
    assert dates(extractor, spacy_model, text) == []


def test_order_number_is_an_order_id_and_not_a_date(extractor, spacy_model):
    assert found(extractor, spacy_model, "where is order 104523") == {("order_id", "104523")}
    assert found(extractor, spacy_model, "order 48213") == set()  # five digits: not an order number either


def test_date_entity_carries_its_words_and_kind(extractor, spacy_model):
    [date] = [e for e in extractor.extract("sent it back 2 weeks ago", spacy_model, reference=REFERENCE)]
    assert date == {
        "entity": "date",
        "start": 13,
        "end": 24,
        "value": "2026-02-26",
        "confidence_entity": 1.0,
        "extractor": "CatalogEntityExtractor",
        "additional_info": {"text": "2 weeks ago", "kind": "date", "grain": "day"},
    }


def test_process_counts_dates_from_the_message_time(extractor, spacy_model):
    message = Message.build("it came yesterday")
    message.time = int(REFERENCE.timestamp())
    extractor.process([message], spacy_model)
    assert [(e["entity"], e["value"]) for e in message.get("entities")] == [("date", "2026-03-11")]


def test_process_counts_dates_from_now_without_a_message_time(extractor, spacy_model):
    message = Message.build("it came yesterday")
    extractor.process([message], spacy_model)
    today = dt.datetime.now(dt.timezone.utc).date()
    assert [e["value"] for e in message.get("entities")] in (
        [(today - dt.timedelta(days=1)).isoformat()],
        [today.isoformat()],  # the test ran across midnight UTC
    )


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
