"""Rasa's search for training and test data skips hidden folders (`.venv-rasa`, `.venv`, `.git`).

Rasa walks every folder under the paths it is given and opens every YAML and JSON file to guess what
it holds. A bare `rasa test` looks for test stories under the project folder itself, which here holds
both virtual environments: it would open thousands of files from installed packages, and stops on the
first JSON file that is a plain number. Nothing of ours lives in a hidden folder.

`install()` runs when `bot.nlu.spacy_nlp`, the first of our components in config.yml, is imported:
that is when Rasa loads a model's graph, which a `rasa test` does before it looks for the test stories,
and the only moment our code runs there. (Not on importing `bot.nlu`: runtime B imports parts of it
without Rasa.)
"""

from __future__ import annotations

import os
from collections.abc import Callable


def visible_data_files(directory: str, filter_property: Callable[[str], bool]) -> set[str]:
    """The files under `directory` Rasa would take, outside hidden folders."""
    from rasa.shared.data import is_valid_filetype

    found = set()
    for root, folders, files in os.walk(directory, followlinks=True):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):  # a stable order, as Rasa's own walk keeps, for repeatable training
            path = os.path.join(root, name)
            if is_valid_filetype(path) and filter_property(path):
                found.add(path)
    return found


def install() -> None:
    """Replace Rasa's folder walk (`rasa.shared.data._find_data_files_in_directory`), once."""
    import rasa.shared.data

    rasa.shared.data._find_data_files_in_directory = visible_data_files  # type: ignore[assignment]
