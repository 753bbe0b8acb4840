"""What the platforms' webhook schemas share (`meta_schema`, `x_schema`): strict types, bounded strings.

Pydantic v1 (the version Rasa 3.6 ships). The models declare every field our parsers read, with strict
types (no `"5"` → 5, no 1.0 → "1.0"); fields we do not read are allowed and left alone, since platforms
add fields without notice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Extra, ValidationError, constr

ID_PATTERN = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
MS_PATTERN = re.compile(r"[0-9]{1,16}")
MAX_TEXT = 20_000  # longer than any platform's message limit (X DMs: 10,000)

Text = constr(strict=True, max_length=MAX_TEXT)


class PlatformId(str):
    """A platform id: a string or an integer (X sends both), 1–64 characters of `[A-Za-z0-9_.:-]`."""

    @classmethod
    def __get_validators__(cls) -> Any:
        """Pydantic v1's hook."""
        yield cls.validate

    @classmethod
    def validate(cls, value: Any) -> str:
        """The id as a string; TypeError/ValueError for anything else."""
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise TypeError("id must be a string or an integer")
        text = str(value)
        if not ID_PATTERN.fullmatch(text):
            raise ValueError("id of an unexpected form")
        return text


class MsTimestamp(int):
    """Milliseconds since the epoch: an integer, or a string of digits (X's `created_timestamp`)."""

    @classmethod
    def __get_validators__(cls) -> Any:
        """Pydantic v1's hook."""
        yield cls.validate

    @classmethod
    def validate(cls, value: Any) -> int:
        """The timestamp as an int; floats (1e400, NaN), booleans and other strings are refused."""
        if isinstance(value, bool):
            raise TypeError("timestamp must be an integer")
        if isinstance(value, int):
            if not 0 <= value < 10**16:
                raise ValueError("timestamp out of range")
            return value
        if isinstance(value, str) and MS_PATTERN.fullmatch(value):
            return int(value)
        raise TypeError("timestamp must be an integer of milliseconds")


class Model(BaseModel):
    """Base of every schema model: unknown fields allowed and kept, known ones strictly typed."""

    class Config:
        """Pydantic v1 settings."""

        extra = Extra.allow


@dataclass
class Checked:
    """A body with only well-formed items left, and why the others were left out."""

    body: dict[str, Any]
    rejected: list[str] = field(default_factory=list)


def cleaned(model: BaseModel) -> dict[str, Any]:
    """The validated item as the parsers read it: ids as strings, nulls left out."""
    return model.dict(exclude_none=True)


def problems(err: ValidationError) -> str:
    """Where and why validation failed, without the (customer-supplied) values."""
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()[:5]]
    return "; ".join(parts)
