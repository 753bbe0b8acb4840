r"""Reviewed customer messages into Rasa NLU examples: one new line each, every other byte left alone.

The topic files in `data/nlu/` are written by hand (comments, blank lines, an order that means
something), so an example is never re-dumped with the file: it becomes one `    - <markup>` line at
the end of its intent's `examples: |` block. ruamel.yaml only finds that block, and reads the new text
back to prove it holds exactly the old examples plus the new ones. A fixed share of the examples,
chosen by a hash of the text (so a message always lands on the same side), goes to the held-out set
(`tests/nlu/reviewed.yml`) instead, so `make test-nlu` keeps measuring on messages never trained on.

Customer text is neutralised before it is written, because Rasa reads the line as markup
(https://rasa.com/docs/rasa/training-data-format/#entities): `[` `]` outside the annotations become
`(` `)`; line breaks and control characters become spaces (Rasa splits examples with `splitlines()`,
which also breaks at U+2028, U+0085 and form feeds); a backslash before `u` or `U` becomes `/`,
because Rasa decodes `\uXXXX` in any file that is pure ASCII (`rasa.shared.utils.io.read_yaml`), and a
stray `\u` fails the whole file. Whitespace is collapsed and trimmed, and the text capped.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import secrets
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content import markup
from bot.content.git_branch import ExportError, commit_files
from bot.content.masking import Entity
from bot.content.yaml_blocks import DataFileError, add_examples, blocks, load, read

__all__ = [
    "ChangeSet", "ChangedMeanwhile", "DataFileError", "Entity", "Example", "ExportError", "Placed",
    "annotate", "diff", "export_branch", "is_heldout", "plan", "topic_files", "write",
]  # fmt: skip

TOPICS = Path("data/nlu")
HELDOUT = Path("tests/nlu")
REVIEWED = HELDOUT / "reviewed.yml"
REVIEWED_HEADER = (
    "# Held-out examples from reviewed conversations (bot/content/nlu_data.py): never used for training.\n"
    'version: "3.1"\n'
    "nlu:\n"
)
MAX_CHARS = 500
FALLBACK_INTENT = "nlu_fallback"  # Rasa's FallbackClassifier predicts it; never a training target
EXTERNAL_PREFIX = "EXTERNAL_"  # intents the desk triggers through Rasa's API; never typed
_SIMPLE_NAME = re.compile(r"\w[\w.-]*")  # an entity name that `[text](name)` can carry
_UNSAFE = frozenset("\ufeff\ufffe\uffff")  # BOM and non-characters: not for the middle of a YAML file


@dataclass(frozen=True)
class Example:
    """One training example: plain text, its intent, and its entities as character spans."""

    text: str
    intent: str
    entities: tuple[Entity, ...] = ()


@dataclass(frozen=True)
class Placed:
    """Where an example goes: `example` as given (callers match on it), `written` as it is written."""

    example: Example
    file: Path
    heldout: bool
    written: Example


@dataclass
class ChangeSet:
    """What `plan` would do: each file's (old text, new text), and what went where or why not."""

    files: dict[Path, tuple[str, str]] = field(default_factory=dict)
    placed: list[Placed] = field(default_factory=list)
    skipped: list[tuple[Example, str]] = field(default_factory=list)


class ChangedMeanwhile(RuntimeError):
    """A file is no longer what the change was planned on (someone edited it): plan again."""


class _Unusable(ValueError):
    """An example that cannot be written; the message is the reason shown to the editor."""


def annotate(example: Example) -> str:
    """The example as one line of Rasa markup: `where is [104523](order_id)`.

    The text is neutralised character for character (offsets stay valid). Entities that fall outside
    the text or overlap an earlier one are left out: `plan` refuses such examples with a reason, and a
    suggestion on the desk still shows the rest.
    """
    text = _neutral(example.text)
    parts: list[str] = []
    cursor = 0
    for entity in sorted(example.entities, key=lambda e: (e.start, e.end)):
        if entity.start < cursor or not 0 <= entity.start < entity.end <= len(text):
            continue
        shown = text[entity.start : entity.end]
        parts += [text[cursor : entity.start], f"[{shown}]", _label(entity, shown)]
        cursor = entity.end
    parts.append(text[cursor:])
    return "".join(parts)


def _label(entity: Entity, shown: str) -> str:
    value = None if entity.value in (None, shown) else entity.value
    if value is None and _SIMPLE_NAME.fullmatch(entity.entity):
        return f"({entity.entity})"
    described = {"entity": entity.entity} if value is None else {"entity": entity.entity, "value": value}
    return json.dumps(described, ensure_ascii=False)


def _neutral(text: str) -> str:
    """Same length, nothing Rasa or YAML would read as structure (see the module docstring)."""
    chars = []
    for i, ch in enumerate(text):
        if ch in _UNSAFE or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
            ch = " "
        elif ch in "[]":
            ch = "(" if ch == "[" else ")"
        elif ch == "\\" and text[i + 1 : i + 2] in ("u", "U"):
            ch = "/"
        chars.append(ch)
    return "".join(chars)


def is_heldout(text: str, every: int) -> bool:
    """Whether a text belongs to the held-out set: sha256 of its normalised form is 0 mod `every`."""
    if every <= 0:
        return False
    normalised = " ".join(text.casefold().split())
    return int(hashlib.sha256(normalised.encode("utf-8")).hexdigest(), 16) % every == 0


def topic_files(root: Path) -> dict[str, Path]:
    """Intent -> the `data/nlu` file that holds its examples (the first, by name, if several do)."""
    return _Existing.scan(root).topics


def plan(root: Path, examples: Sequence[Example], heldout_every: int = 5) -> ChangeSet:
    """Where each example would go, and the new text of every file touched; nothing is written."""
    intents, entities = _domain(root)
    existing = _Existing.scan(root)
    topics, known, heldout_intents = existing.topics, existing.known, existing.heldout_intents
    change = ChangeSet()
    lines: dict[Path, dict[str, list[str]]] = {}
    for example in examples:
        try:
            written = _usable(example, intents, entities)
            keys = _keys(written.text)
            _check_new(keys, written.intent, known)
            if written.intent not in topics:
                raise _Unusable(f"no file in {TOPICS} has examples of {written.intent} yet: start its block")
        except _Unusable as err:
            change.skipped.append((example, str(err)))
            continue
        known.update(dict.fromkeys(keys, (written.intent, "")))
        # An intent with no held-out examples at all (the media intents) stays out of the held-out
        # set: tests/test_training_data.py holds that set to the typed intents.
        heldout = written.intent in heldout_intents and is_heldout(written.text, heldout_every)
        file = root / REVIEWED if heldout else topics[written.intent]
        lines.setdefault(file, {}).setdefault(written.intent, []).append(annotate(written))
        change.placed.append(Placed(example, file, heldout, written))
    for file, additions in lines.items():
        old = read(file) if file.exists() else ""
        base = old if old.strip() or file != root / REVIEWED else REVIEWED_HEADER
        new = add_examples(base, additions, file, may_add_blocks=file == root / REVIEWED)
        change.files[file] = (old, new)
    return change


def _usable(example: Example, intents: set[str], entities: set[str]) -> Example:
    """The example as it will be written, or `_Unusable` with the reason."""
    intent = example.intent.strip()
    if not intent:
        raise _Unusable("no intent")
    if intent == FALLBACK_INTENT or intent.startswith(EXTERNAL_PREFIX):
        raise _Unusable(f"{intent} is never a training target (Rasa predicts or the API triggers it)")
    if intent not in intents:
        raise _Unusable(f"intent {intent} is not in domain.yml")
    text = _neutral(example.text)
    spans = sorted(example.entities, key=lambda e: (e.start, e.end))
    for before, entity in zip([None, *spans], spans, strict=False):
        if not 0 <= entity.start < entity.end <= len(text):
            raise _Unusable(f"entity {entity.entity} at {entity.start}-{entity.end} is outside the text")
        if before is not None and entity.start < before.end:
            raise _Unusable(f"entities {before.entity} and {entity.entity} overlap")
        if entity.entity not in entities:
            raise _Unusable(f"entity {entity.entity} is not in domain.yml")
        shown = text[entity.start : entity.end]
        if shown != shown.strip():
            raise _Unusable(f"entity {entity.entity} ({shown.strip()!r}) starts or ends with a space")
        if _splits_word(text, entity.start) or _splits_word(text, entity.end):
            raise _Unusable(f"entity {entity.entity} ({shown!r}) starts or ends inside a word")
        if entity.value is not None and not _writable_value(entity.value):
            raise _Unusable(f"entity value {entity.value!r} cannot be written (empty, or has }} [ ] \\u)")
    written = _trimmed(Example(text, intent, tuple(spans)))
    if not written.text:
        raise _Unusable("empty text")
    line = annotate(written)
    if load(f"x: |\n  - {line}\n", Path("<example>")) != {"x": f"- {line}\n"}:
        raise _Unusable("cannot be written as one YAML line")
    if markup.parse(line) != (written.text, tuple(_as_read(written))):
        raise _Unusable("does not read back as written")
    return written


def _writable_value(value: str) -> bool:
    """Rasa reads `{...}` up to the first `}`; the rest as for text (see `_neutral`)."""
    return bool(value.strip()) and "}" not in value and _neutral(value) == value


def _splits_word(text: str, at: int) -> bool:
    return 0 < at < len(text) and text[at - 1].isalnum() and text[at].isalnum()


def _as_read(example: Example) -> Iterator[Entity]:
    """The entities as markup.parse gives them back: no `value` where it is the text itself."""
    for e in example.entities:
        same = e.value == example.text[e.start : e.end]
        yield Entity(e.start, e.end, e.entity, None if same else e.value)


def _trimmed(example: Example) -> Example:
    """Whitespace runs as one space, no space at either end, at most MAX_CHARS; entities moved along."""
    out: list[str] = []
    where: list[int] = []  # where[i]: index in `out` of the input's character i
    for ch in example.text:
        if ch.isspace() and (not out or out[-1] == " "):
            where.append(max(len(out) - 1, 0))
            continue
        where.append(len(out))
        out.append(" " if ch.isspace() else ch)
    text = "".join(out).rstrip(" ")[:MAX_CHARS].rstrip(" ")
    entities = []
    for e in example.entities:
        start, end = where[e.start], where[e.end - 1] + 1
        if end > len(text):
            raise _Unusable(f"entity {e.entity} is beyond the first {MAX_CHARS} characters")
        value = None if e.value == text[start:end] else e.value
        entities.append(Entity(start, end, e.entity, value))
    return Example(text, example.intent, tuple(entities))


def _keys(text: str) -> tuple[str, str]:
    """Two readings of "the same message": case and spacing aside, and as the data tests read it.

    tests/test_training_data.py compares letters and digits only, so a held-out "where is my order?"
    must not sit beside a trained "where is my order".
    """
    exact = " ".join(text.casefold().split())
    words = re.sub(r"[^a-z0-9]+", " ", text.lower().replace("'", "").replace("\u2019", "")).strip()
    return exact, words or text.strip()


def _check_new(keys: tuple[str, str], intent: str, known: dict[str, tuple[str, str]]) -> None:
    for key in keys:
        if key in known:
            other, where = known[key]
            if not where:
                also = "" if other == intent else f" (given as {other})"
                raise _Unusable(f"the same text as an earlier example in this batch{also}")
            if other != intent:
                raise _Unusable(f"contradiction: already an example of {other} ({where})")
            raise _Unusable(f"already an example of {other} ({where})")


@dataclass
class _Existing:
    """The training and held-out data as `plan` needs it, from one reading of the files."""

    topics: dict[str, Path] = field(default_factory=dict)  # intent -> its first data/nlu file
    known: dict[str, tuple[str, str]] = field(default_factory=dict)  # text key -> (intent, file)
    heldout_intents: set[str] = field(default_factory=set)

    @classmethod
    def scan(cls, root: Path) -> _Existing:
        found = cls()
        for folder in (TOPICS, HELDOUT):
            for path in _yaml_files(root / folder):
                rel = path.relative_to(root).as_posix()
                for block in blocks(load(read(path), path)):
                    intent = str(block.get("intent") or "")
                    if not intent:
                        continue
                    if folder == TOPICS:
                        found.topics.setdefault(intent, path)
                    else:
                        found.heldout_intents.add(intent)
                    for line in _example_lines(block.get("examples")):
                        try:
                            text = markup.parse(line)[0]
                        except markup.MarkupError:
                            text = " ".join(line.split())
                        for key in _keys(text):
                            found.known.setdefault(key, (intent, rel))
        return found


def _example_lines(examples: Any) -> list[str]:
    if isinstance(examples, list):  # Rasa's other form: a list of {text: ...}
        return [str(e.get("text", "")) for e in examples if isinstance(e, dict)]
    lines = [line.strip() for line in str(examples or "").split("\n")]
    return [line[1:].strip() for line in lines if line.startswith("-")]


def diff(change: ChangeSet, root: Path) -> str:
    """The change as a unified diff with `a/` and `b/` paths relative to `root` (for `git apply`)."""
    out: list[str] = []
    for path in sorted(change.files):
        old, new = change.files[path]
        rel = path.relative_to(root).as_posix()
        out.append(f"diff --git a/{rel} b/{rel}\n")
        out += ["new file mode 100644\n", "--- /dev/null\n"] if not old else [f"--- a/{rel}\n"]
        out.append(f"+++ b/{rel}\n")
        for line in list(difflib.unified_diff(_diff_lines(old), _diff_lines(new), n=3))[2:]:
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _diff_lines(text: str) -> list[str]:
    """Lines with their line feed (only a line feed ends a line for git; `splitlines` knows more)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def write(change: ChangeSet) -> None:
    """Write every file atomically, after checking none changed since `plan` (`ChangedMeanwhile`)."""
    for path, (old, _) in change.files.items():
        if (read(path) if path.exists() else "") != old:
            raise ChangedMeanwhile(f"{path} was edited after the change was planned: plan it again")
    for path, (_, new) in change.files.items():
        _replace(path, new)


def _replace(path: Path, text: str) -> None:
    """Temp file beside it, then `os.replace`: a reader sees the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask decides, as for any file
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def export_branch(root: Path, change: ChangeSet, branch: str, message: str) -> str:
    """Commit the change onto a new branch from HEAD, leaving the work tree and the index alone; its sha."""
    return commit_files(root, change.files, branch, message)


def _domain(root: Path) -> tuple[set[str], set[str]]:
    """The domain's intent and entity names (an entry may be a name or a one-key mapping)."""
    data = load(read(root / "domain.yml"), root / "domain.yml") or {}

    def names(key: str) -> set[str]:
        return {str(next(iter(i))) if isinstance(i, dict) else str(i) for i in data.get(key) or []}

    return names("intents"), names("entities")


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
