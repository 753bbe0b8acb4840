"""Checks every fake Graph call shares: the access token, `appsecret_proof`, and the target node.

https://developers.facebook.com/docs/graph-api/securing-requests (appsecret_proof is HMAC-SHA256 of
the token with the app secret) and Graph's "Unsupported post request" error for unknown nodes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bot.simulator.const import CODE_UNSUPPORTED_POST, MSG_BAD_APPSECRET_PROOF, SUBCODE_UNSUPPORTED_POST
from bot.simulator.graph_errors import GraphError


def access_token(request: web.Request, params: Mapping[str, Any] | None = None) -> str | None:
    """The token from `?access_token=`, `Authorization: Bearer ...`, or (Graph allows it) the body."""
    token = request.query.get("access_token")
    if token:
        return token
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    body_token = params.get("access_token") if params is not None else None
    return body_token if isinstance(body_token, str) and body_token else None


def check_appsecret_proof(request: web.Request, body: Any, token: str, secret: str) -> None:
    """Graph checks `appsecret_proof` (HMAC-SHA256 of the token with the app secret) when it is sent."""
    proof = request.query.get("appsecret_proof")
    if proof is None and isinstance(body, Mapping):
        proof = body.get("appsecret_proof")
    if proof is None:
        return
    expected = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    if not isinstance(proof, str) or not hmac.compare_digest(proof, expected):
        raise GraphError(message=MSG_BAD_APPSECRET_PROOF, code=100, type="GraphMethodException")


def unsupported_post(node: str) -> GraphError:
    """100/33: the node does not exist, is not ours, or has no such edge or operation."""
    return _unsupported("post", node)


def unsupported_get(node: str) -> GraphError:
    """100/33 for a read: the object does not exist or this token may not see it."""
    return _unsupported("get", node)


def _unsupported(method: str, node: str) -> GraphError:
    return GraphError(
        message=(
            f"Unsupported {method} request. Object with ID '{node}' does not exist, cannot be loaded due "
            "to missing permissions, or does not support this operation."
        ),
        code=CODE_UNSUPPORTED_POST,
        subcode=SUBCODE_UNSUPPORTED_POST,
        type="GraphMethodException",
    )
