"""Deterministic entities for the catalogue, order numbers and e-mail addresses, merged with DIET's.

DIET learns entities from annotated examples and generalises to typos and unseen phrasings, but it can
miss a product it never saw or cut an order number in half. This component adds what can be known for
sure and wins where the two overlap:

- catalogue phrases (`product`, `color`, `size`) from the lookup tables in `data/nlu/lookups/`, matched
  with a spaCy `PhraseMatcher` on lower-cased tokens (plurals included), so content teams extend it by
  editing YAML;
- patterns (`order_id`, `email`) from the regexes in the same folder;
- pretrained spaCy NER labels mapped to our entity names (dates and amounts of money). A DATE span is a
  `date` entity only when `bot/nlu/dates.py` reads it as a date or a duration: its value is the ISO string
  ("2026-03-06", "P3W"), and `additional_info` keeps the words, the kind and the grain. The small model
  tags "order 48213", "weeks" or "black" DATE too; those are dropped. `dates.py` also finds the numeric
  dates spaCy does not tag ("on 03/12/2026").

Short or numeric sizes ("M", "40") are only taken after a cue ("size M", "in 40") or when written in
capitals, because "i waited 40 mins" is not a size.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import dump_obj_as_json_to_file, read_json_file

from bot.nlu.dates import find_dates

PATTERNS_FILE = "catalog_entities.json"
# Sources in order of trust: where two found entities overlap, the earlier source wins.
REGEX, PHRASE, NER = "regex", "phrase", "ner"
# The entity whose NER spans go through bot/nlu/dates.py (`ner_labels` maps spaCy's DATE to it).
DATE = "date"


def plural_forms(phrase: str) -> list[str]:
    """English plural of the last word: 'linen shirt' -> 'linen shirts', 'dress' -> 'dresses'."""
    if not phrase or not phrase[-1].isalpha():
        return []
    if phrase.endswith(("s", "x", "sh", "ch")):
        return [phrase + "es"]
    if phrase.endswith("y") and len(phrase) > 1 and phrase[-2] not in "aeiou":
        return [phrase[:-1] + "ies"]
    return [phrase + "s"]


def overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two entity dicts share at least one character."""
    return a["start"] < b["end"] and b["start"] < a["end"]


def drop_overlaps(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep entities in the given order of trust, dropping any that overlaps one kept before it."""
    kept: list[dict[str, Any]] = []
    for entity in entities:
        if not any(overlaps(entity, other) for other in kept):
            kept.append(entity)
    return kept


def reference_time(message: Message) -> dt.datetime:
    """When the message was sent (UTC) if Rasa knows it, else now: dates like "yesterday" count from it.

    As Rasa's DucklingEntityExtractor does, `Message.time` is epoch seconds.
    """
    if message.time is not None:
        try:
            return dt.datetime.fromtimestamp(float(message.time), tz=dt.timezone.utc)
        except (TypeError, ValueError, OverflowError, OSError):
            pass  # not a timestamp: count from now
    return dt.datetime.now(dt.timezone.utc)


def merge_entities(learned: list[dict[str, Any]], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Found entities win; learned ones stay where they overlap nothing found. Sorted by position."""
    return sorted(drop_overlaps([*found, *learned]), key=lambda e: (e["start"], e["end"]))


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True, model_from="SpacyNLP"
)
class CatalogEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Catalogue phrases, regexes and spaCy NER as entities; they replace overlapping DIET entities."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Which lookup tables, regexes and NER labels become which entities."""
        return {
            "phrase_entities": ["product", "color", "size"],
            "regex_entities": ["order_id", "email"],
            "ner_labels": {"DATE": "date", "MONEY": "amount"},
            # Entities whose short (<= 2 characters) or numeric values need a cue word before them.
            "cued_entities": ["size"],
            "cues": ["size", "sizes", "sz", "in", "a", "an", "uk", "eu", "us", "the", "it"],
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        patterns: dict[str, Any] | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._patterns: dict[str, Any] = patterns or {"phrases": {}, "regexes": {}}
        self._regexes = [
            (entity, re.compile(pattern, re.IGNORECASE))
            for entity, patterns in self._patterns["regexes"].items()
            for pattern in patterns
        ]
        self._matcher: Any = None  # built on first use, from the loaded spaCy vocabulary
        self._skipped: tuple[Any, list[str]] | None = None  # (pipeline, pipes NER does not need)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CatalogEntityExtractor:
        """Create an untrained component."""
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CatalogEntityExtractor:
        """Load the patterns collected at training time."""
        try:
            with model_storage.read_from(resource) as path:
                patterns = read_json_file(path / PATTERNS_FILE)
        except ValueError:
            patterns = None
        return cls(config, model_storage, resource, patterns)

    @staticmethod
    def required_packages() -> list[str]:
        """SpaCy does the tokenising, phrase matching and NER."""
        return ["spacy"]

    def train(self, training_data: TrainingData, model: SpacyModel | None = None) -> Resource:
        """Collect the phrases and regexes named in the config from the training data.

        `model` is passed by Rasa's graph (this component takes the spaCy model from SpacyNLP); the
        patterns are plain text, so training does not use it.
        """
        phrases: dict[str, dict[str, str]] = {}
        for table in training_data.lookup_tables:
            if table["name"] not in self._config["phrase_entities"]:
                continue
            values = phrases.setdefault(table["name"], {})
            for element in table["elements"]:
                canonical = str(element).strip().lower()
                for form in [canonical, *plural_forms(canonical)]:
                    values.setdefault(form, canonical)
        regexes: dict[str, list[str]] = {}
        for feature in training_data.regex_features:
            if feature["name"] in self._config["regex_entities"]:
                regexes.setdefault(feature["name"], []).append(feature["pattern"])
        self._patterns = {"phrases": phrases, "regexes": regexes}
        with self._model_storage.write_to(self._resource) as path:
            dump_obj_as_json_to_file(path / PATTERNS_FILE, self._patterns)
        return self._resource

    def process_training_data(self, training_data: TrainingData, model: SpacyModel) -> TrainingData:
        """Nothing to add to training data: DIET learns from the annotations."""
        return training_data

    def process(self, messages: list[Message], model: SpacyModel) -> list[Message]:
        """Add catalogue, regex and NER entities; they replace overlapping entities from DIET."""
        texts = [message.get(TEXT) or "" for message in messages]
        # One spaCy pass for all (the server parses several messages at once: bot/rasa_server/batch_parse.py).
        docs = model.model.pipe(texts, disable=self._not_for_ner(model.model))
        for message, text, doc in zip(messages, texts, docs, strict=True):
            found = self.extract(text, model, doc, reference_time(message))
            merged = merge_entities(message.get(ENTITIES, []), found)
            message.set(ENTITIES, merged, add_to_output=True)
        return messages

    def extract(
        self, text: str, model: SpacyModel, doc: Any = None, reference: dt.datetime | None = None
    ) -> list[dict[str, Any]]:
        """Entities this component finds in `text`, without overlaps (the more trusted source wins).

        `doc`: the text already parsed with `model` for NER, if it was (several messages at once).
        `reference`: when the message was sent, for relative dates ("yesterday"); now if not given.
        """
        found = [
            self._entity(entity, match.start(), match.end(), match.group(0), REGEX)
            for entity, regex in self._regexes
            for match in regex.finditer(text)
        ]
        if doc is None:
            doc = model.model(text, disable=self._not_for_ner(model.model))
        found += self._phrase_entities(doc, model.model)
        labels = self._config["ner_labels"]
        ents = [ent for ent in doc.ents if ent.label_ in labels and any(ch.isalnum() for ch in ent.text)]
        found += [
            self._entity(labels[ent.label_], ent.start_char, ent.end_char, ent.text, NER)
            for ent in ents
            if labels[ent.label_] != DATE
        ]
        date_spans = [(ent.start_char, ent.end_char) for ent in ents if labels[ent.label_] == DATE]
        found += self._date_entities(text, date_spans, reference or dt.datetime.now(dt.timezone.utc))
        order = {REGEX: 0, PHRASE: 1, NER: 2}
        found.sort(key=lambda e: (order[e.pop("_source")], -(e["end"] - e["start"])))
        return drop_overlaps(found)

    def _date_entities(
        self, text: str, spans: list[tuple[int, int]], reference: dt.datetime
    ) -> list[dict[str, Any]]:
        """The spans `bot/nlu/dates.py` reads as dates, with its ISO value; the rest is not a date."""
        entities = []
        for found in find_dates(text, spans, reference):
            entity = self._entity(DATE, found.start, found.end, found.date.value, NER)
            entity["additional_info"] = {
                "text": found.text,
                "kind": found.date.kind,
                "grain": found.date.grain,
            }
            entities.append(entity)
        return entities

    def _not_for_ner(self, nlp: Any) -> list[str]:
        """The pipes this component does not read: all but NER and the tok2vec it listens to, if any.

        SpacyNLP's doc for the message is built from lower-cased text (NER needs the case), so this
        component parses the text again; tagging and lemmatising it a second time was four fifths of
        that cost (bench/PROFILE.md) and changes no entity: the phrases match on the tokens' LOWER.
        """
        if self._skipped is None or self._skipped[0] is not nlp:
            needed = {"ner"} | {
                name for name, pipe in nlp.pipeline if "ner" in getattr(pipe, "listening_components", ())
            }
            self._skipped = (
                nlp,
                [] if "ner" not in nlp.pipe_names else [n for n in nlp.pipe_names if n not in needed],
            )
        return self._skipped[1]

    def _phrase_entities(self, doc: Any, nlp: Any) -> list[dict[str, Any]]:
        from spacy.util import filter_spans

        matcher = self._phrase_matcher(nlp)
        spans = filter_spans([doc[start:end] for _, start, end in matcher(doc)])
        entities = []
        for span in spans:
            entity, value = self._lookup(span.text.lower())
            if entity is None or not self._cue_satisfied(entity, span):
                continue
            entities.append(self._entity(entity, span.start_char, span.end_char, value, PHRASE))
        return entities

    def _lookup(self, phrase: str) -> tuple[str | None, str]:
        for entity, values in self._patterns["phrases"].items():
            if phrase in values:
                return entity, values[phrase]
        return None, phrase

    def _cue_satisfied(self, entity: str, span: Any) -> bool:
        text = span.text
        if entity not in self._config["cued_entities"]:
            return True
        if not (len(text) <= 2 or text.isdigit()):
            return True
        if text.isalpha() and text.isupper():
            return True
        return span.start > 0 and span.doc[span.start - 1].lower_ in self._config["cues"]

    def _phrase_matcher(self, nlp: Any) -> Any:
        """A PhraseMatcher over all lookup phrases, built once per loaded spaCy pipeline."""
        from spacy.matcher import PhraseMatcher

        if self._matcher is None or self._matcher.vocab is not nlp.vocab:
            matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
            for entity, values in self._patterns["phrases"].items():
                matcher.add(entity, [nlp.make_doc(phrase) for phrase in values])
            self._matcher = matcher
        return self._matcher

    def _entity(self, entity: str, start: int, end: int, value: str, source: str) -> dict[str, Any]:
        return {
            "entity": entity,
            "start": start,
            "end": end,
            "value": value,
            "confidence_entity": 1.0,
            "extractor": self.__class__.__name__,
            "_source": source,
        }
