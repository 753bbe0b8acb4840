"""Surgery on one Rasa NLU YAML file: new example lines at the end of an intent's `examples: |` block.

Every other byte stays (comments, blank lines, quoting, order): the text is edited line by line, and
ruamel.yaml is used only to find a block (its line numbers) and to read the result back, which must
be the old data plus exactly the new example lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

Shape = tuple[dict[str, Any], list[tuple[str, list[str], dict[str, Any]]]]


class DataFileError(ValueError):
    """A training-data file cannot be read, or a change to it would not read back as planned."""


def add_examples(text: str, additions: dict[str, list[str]], path: Path, may_add_blocks: bool) -> str:
    """`text` with each intent's new markup lines at the end of its block, checked by reading it back.

    An intent without a block gets a new one at the end of the file when `may_add_blocks` (the
    held-out file); in a topic file that is an error.
    """
    new = _insert(text, additions, path, may_add_blocks)
    expected = shape(text, path)
    for intent, lines in additions.items():
        found = [b for b in expected[1] if b[0] == intent]
        if not found:
            found = [(intent, [], {"intent": intent})]
            expected[1].append(found[0])
        found[-1][1].extend(f"- {line}" for line in lines)
    if shape(new, path) != expected:
        raise DataFileError(f"{path}: the new text would not read back as planned (nothing written)")
    return new


def _insert(text: str, additions: dict[str, list[str]], path: Path, may_add_blocks: bool) -> str:
    lines = text.split("\n")
    cr = "\r" if lines[0].endswith("\r") else ""  # a CR LF file gets CR LF lines
    by_intent = {str(b.get("intent")): b for b in blocks(load(text, path, round_trip=True))}
    missing: dict[str, list[str]] = {}
    inserts: list[tuple[int, list[str]]] = []
    for intent, new in additions.items():
        if intent not in by_intent:
            missing[intent] = new
            continue
        after, prefix = _block_end(lines, by_intent[intent], intent, path)
        inserts.append((after, [prefix + line + cr for line in new]))
    for after, new in sorted(inserts, reverse=True):  # bottom up: earlier line numbers stay right
        if after == len(lines) - 1:  # the block ends the file, without a final line break
            lines[after] += cr
            new[-1] = new[-1].removesuffix(cr)
        lines[after + 1 : after + 1] = new
    text = "\n".join(lines)
    if missing and not may_add_blocks:
        raise DataFileError(f"{path}: no block for {', '.join(missing)}")
    nl = cr + "\n"
    for intent, new in missing.items():
        text += "" if not text or text.endswith("\n") else nl
        text += "" if text.rstrip().endswith("nlu:") else nl  # a blank line between blocks
        text += f"- intent: {intent}{nl}  examples: |{nl}" + "".join(f"    - {line}{nl}" for line in new)
    return text


def _block_end(lines: list[str], block: Any, intent: str, path: Path) -> tuple[int, str]:
    """The index of the block's last non-blank line, and the `    - ` its example lines start with."""
    if not isinstance(block.get("examples"), LiteralScalarString):
        raise DataFileError(f"{path}: the examples of {intent} are not an `examples: |` block")
    header = block.lc.value("examples")[0]  # the line of the `|`
    parent = block.lc.key("examples")[1]
    last, indent = header, 0
    for i in range(header + 1, len(lines)):
        line = lines[i].rstrip("\r")
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip(" "))
        if width <= parent or width < indent:
            break  # YAML: a line indented less than the block's content ends the block
        indent, last = indent or width, i
    body = lines[last].rstrip("\r")
    if last != header and body.lstrip(" ").startswith("- "):
        return last, body[: len(body) - len(body.lstrip(" "))] + "- "
    return last, " " * (indent or parent + 2) + "- "


def shape(text: str, path: Path) -> Shape:
    """The file as data: top-level keys, and each block as (intent, its non-blank example lines, the rest)."""
    data = load(text, path) or {}
    if not isinstance(data, dict):
        raise DataFileError(f"{path}: not a mapping of `version` and `nlu`")
    found = []
    for block in blocks(data):
        lines = [line.strip() for line in str(block.get("examples") or "").split("\n") if line.strip()]
        found.append((str(block.get("intent")), lines, {k: v for k, v in block.items() if k != "examples"}))
    return {k: v for k, v in data.items() if k != "nlu"}, found


def blocks(data: Any) -> list[Any]:
    """The mappings of a file's `nlu:` list (intents, synonyms, lookups, regexes)."""
    items = data.get("nlu") if isinstance(data, dict) else None
    return [b for b in items or [] if isinstance(b, dict)]


def read(path: Path) -> str:
    """The file's exact text (no newline translation: a CR LF file stays CR LF)."""
    return path.read_bytes().decode("utf-8")


def load(text: str, path: Path, round_trip: bool = False) -> Any:
    """YAML 1.2 as Rasa reads it; round trip for line numbers. `DataFileError` names the file."""
    try:
        return YAML(typ="rt" if round_trip else "safe", pure=True).load(text)
    except YAMLError as err:
        raise DataFileError(f"{path}: not valid YAML ({err})") from err
