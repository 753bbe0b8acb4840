"""X API v2 error answers ("problems"), as the fake X gives them.

Validation errors: `{"errors": [{"message", "parameters": {name: [values]}}], "title": "Invalid Request",
"detail": "One or more parameters to your request was invalid.", "type": ".../problems/invalid-request"}`.
Other errors are generic problems `{"title", "detail", "type": "about:blank", "status"}`, e.g. 401
Unauthorized and 429 Too Many Requests (the latter with `x-rate-limit-*` headers:
https://docs.x.com/x-api/fundamentals/rate-limits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from bot.simulator.const import X_INVALID_REQUEST_DETAIL, X_PROBLEM_INVALID_REQUEST


@dataclass(eq=False)
class XProblem(Exception):
    """A refusal: HTTP status, the JSON body X would send, and extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def problem(status: int, detail: str | None = None) -> XProblem:
    """A generic problem: title is the status phrase, detail the same unless given."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {"title": title, "detail": detail or title, "type": "about:blank", "status": status}
    return XProblem(status, body)


def unauthorized() -> XProblem:
    """401, whatever was wrong with the OAuth signature (X does not say which part)."""
    return problem(401)


def invalid_request(message: str, parameters: dict[str, list[str]] | None = None) -> XProblem:
    """400 in X's invalid-request shape."""
    error: dict[str, Any] = {"parameters": parameters or {}, "message": message}
    body = {
        "errors": [error],
        "title": "Invalid Request",
        "detail": X_INVALID_REQUEST_DETAIL,
        "type": X_PROBLEM_INVALID_REQUEST,
    }
    return XProblem(400, body)


def rate_limit_headers(limit: int, remaining: int, reset_at: float) -> dict[str, str]:
    """X's rate-limit headers; `reset_at` is epoch seconds."""
    return {
        "x-rate-limit-limit": str(limit),
        "x-rate-limit-remaining": str(max(remaining, 0)),
        "x-rate-limit-reset": str(int(reset_at)),
    }


def injected(status: int, limit: int, reset_at: float, message: str | None = None) -> XProblem:
    """What X answers with `status` when a failure is injected (429 with its rate-limit headers)."""
    if status == 400:
        return invalid_request(message or "Injected failure (simulator)")
    refusal = problem(status, message)
    if status == 429:
        refusal.headers.update(rate_limit_headers(limit, 0, reset_at))
    return refusal
