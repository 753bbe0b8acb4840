"""Files editors change while the services run (canned responses, escalation.yml, monitoring.yml).

A `WatchedFile` holds the parsed value of one file and notices edits without re-reading the file on
every use: at most every `every` seconds (default 2) it compares the file's modification time and
size with what it last parsed, and parses again only when they changed. A broken edit keeps the last
good value and logs one warning naming the file and the error (once per broken version, not once per
check); the next good edit is picked up as usual. At start-up there is no good value to keep, so an
invalid file is a `ConfigFileError` that stops the service.

Standard library only: the Rasa side (runtime A) may use it as well.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
CHECK_EVERY_SECONDS = 2.0
# What a parser raises for a file it cannot use: bad values, wrong shapes, an unreadable file, and YAML
# syntax errors (yaml.YAMLError is not a ValueError: `read_yaml` turns it into one).
PARSE_ERRORS: tuple[type[Exception], ...] = (ValueError, TypeError, KeyError, AttributeError, OSError)

Signature = tuple[int, int] | None  # (mtime in ns, size), None for a missing file


class ConfigFileError(ValueError):
    """A configuration file cannot be used; the message names the file and what is wrong."""


def signature(path: Path) -> Signature:
    """What tells one version of the file from another without reading it."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


REQUIRED = object()  # read_yaml's `missing` for a file that must exist


def read_yaml(path: Path, missing: Any = REQUIRED) -> Any:
    """The YAML document in `path`; a syntax error is a ValueError.

    A missing file is FileNotFoundError, or `missing` when one is given (e.g. [] for "no entries").
    """
    import yaml  # not at import time: this module stays standard-library only

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing is REQUIRED:
            raise
        return missing
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"not valid YAML: {err}") from err


class WatchedFile(Generic[T]):
    """The parsed value of `path`, re-parsed when the file changes (checked at most every `every` s).

    `parse` reads the file (it is also called for a missing file, and decides what that means) and
    raises one of PARSE_ERRORS for a file it cannot use. `clock` is injectable for tests.
    """

    def __init__(
        self,
        path: Path,
        parse: Callable[[Path], T],
        every: float = CHECK_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._parse = parse
        self.every = every
        self._clock = clock
        self._signature = signature(self.path)
        try:
            self._value = parse(self.path)
        except PARSE_ERRORS as err:
            raise ConfigFileError(f"{self.path}: {err}") from err
        self._checked = clock()
        self._broken: Signature = None  # the version last refused (one warning per broken version)
        self.parses = 1

    @property
    def value(self) -> T:
        """The current value: the file's latest good version, as of the last check."""
        now = self._clock()
        if now - self._checked >= self.every:
            self._checked = now
            self._reload()
        return self._value

    def _reload(self) -> None:
        current = signature(self.path)
        if current == self._signature or (current is not None and current == self._broken):
            return
        try:
            value = self._parse(self.path)
        except PARSE_ERRORS as err:
            self._broken = current
            logger.warning("%s: edit not used, keeping the last good version: %s", self.path, err)
            return
        finally:
            self.parses += 1
        self._value, self._signature, self._broken = value, current, None
        logger.info("%s: reloaded", self.path)
