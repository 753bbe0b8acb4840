"""Graph API error objects: what every refused Send API call answers.

Shape: https://developers.facebook.com/docs/graph-api/guides/error-handling
`{"error": {"message", "type", "code", "error_subcode"?, "is_transient"?, "fbtrace_id"}}`.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

from bot.simulator.const import (
    CODE_INVALID_PARAMETER,
    CODE_INVALID_TOKEN,
    CODE_PERMISSION,
    CODE_SYNTAX_ERROR,
    INJECTED_ERRORS,
    MSG_INVALID_TOKEN,
    MSG_OUTSIDE_WINDOW,
    OAUTH_EXCEPTION,
    SUBCODE_OUTSIDE_WINDOW,
    UNKNOWN_ERROR,
)

_TRACE_ALPHABET = string.ascii_letters + string.digits


def fbtrace_id() -> str:
    """A random trace id like Meta's (11 characters)."""
    return "".join(secrets.choice(_TRACE_ALPHABET) for _ in range(11))


@dataclass(eq=False)
class GraphError(Exception):
    """A refusal with the HTTP status and the fields of Meta's error object."""

    message: str
    code: int
    status: int = 400
    subcode: int | None = None
    type: str = OAUTH_EXCEPTION
    transient: bool = False

    def body(self) -> dict[str, Any]:
        """The JSON answer, with a fresh fbtrace_id."""
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.transient:
            error["is_transient"] = True
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}


def invalid_parameter(message: str, subcode: int | None = None) -> GraphError:
    """Code 100: the request is malformed or breaks a limit."""
    return GraphError(message=f"(#100) {message}", code=CODE_INVALID_PARAMETER, subcode=subcode)


def syntax_error(message: str) -> GraphError:
    """Code 2500: a malformed `fields` (Graph's `Syntax error "..." at character n: ...`)."""
    return GraphError(message=message, code=CODE_SYNTAX_ERROR)


def www_authenticate(err: GraphError) -> dict[str, str]:
    """The `WWW-Authenticate` header Graph adds to token (190) and request-syntax (2500) errors."""
    reason = {CODE_INVALID_TOKEN: "invalid_token", CODE_SYNTAX_ERROR: "invalid_request"}.get(err.code)
    if reason is None:
        return {}
    # Quotes escaped as Graph does; control characters (from a caller's `fields`) cannot go in a header.
    quoted = "".join(c for c in err.message if c.isprintable()).replace("\\", "\\\\").replace('"', '\\"')
    return {"WWW-Authenticate": f'OAuth "Facebook Platform" "{reason}" "{quoted}"'}


def invalid_token() -> GraphError:
    """Code 190; Graph answers token errors with HTTP 400 (and a WWW-Authenticate header)."""
    return GraphError(message=MSG_INVALID_TOKEN, code=CODE_INVALID_TOKEN)


def outside_window() -> GraphError:
    """Code 10 / 2018278: the 24-hour (or 7-day HUMAN_AGENT) window has closed."""
    return GraphError(message=MSG_OUTSIDE_WINDOW, code=CODE_PERMISSION, subcode=SUBCODE_OUTSIDE_WINDOW)


def injected(
    status: int, code: int | None = None, subcode: int | None = None, message: str | None = None
) -> GraphError:
    """The error Meta gives with `status` (429 rate limit, 5xx temporary failures), or an override."""
    default_code, default_message, transient = INJECTED_ERRORS.get(status, UNKNOWN_ERROR)
    return GraphError(
        message=message or default_message,
        code=default_code if code is None else code,
        status=status,
        subcode=subcode,
        transient=transient,
    )
