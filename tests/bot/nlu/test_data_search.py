"""Rasa's data search skips hidden folders, so a bare `rasa test` never opens the virtual environments."""

from __future__ import annotations

from pathlib import Path

from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.data import get_data_files, is_nlu_file

import bot.nlu.spacy_nlp  # noqa: F401  (what Rasa imports when it loads a model: installs the search)

NLU = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n'
STORY = 'version: "3.1"\nstories:\n- story: hi\n  steps:\n  - intent: greet\n  - action: utter_greet\n'


def test_test_stories_are_found_outside_hidden_folders_only(tmp_path: Path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_stories.yml").write_text(STORY)
    hidden = tmp_path / ".venv-rasa" / "lib"
    hidden.mkdir(parents=True)
    (hidden / "test_package_data.yml").write_text(STORY)
    (hidden / "number.json").write_text("42")  # what stopped a bare `rasa test` before

    found = get_data_files([str(tmp_path)], YAMLStoryReader.is_test_stories_file)

    assert found == [str(tmp_path / "tests" / "test_stories.yml")]


def test_nlu_files_in_hidden_folders_are_never_opened(tmp_path: Path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text(NLU)
    hidden = tmp_path / ".venv"
    hidden.mkdir()
    (hidden / "nlu.yml").write_text(NLU)
    (hidden / "number.json").write_text("42")  # Rasa's format guess raised TypeError on it

    assert get_data_files([str(tmp_path)], is_nlu_file) == [str(tmp_path / "data" / "nlu.yml")]
