"""Errors of the simulator's control API (`/_sim/...`): plain JSON `{"error": "..."}`, not Graph's shape."""

from __future__ import annotations

import json

from aiohttp import web

from bot.simulator.const import MEDIA_MAX_BYTES


def sim_error(status: int, message: str) -> web.HTTPException:
    """An HTTP error (400, 404, 413 or 415) with a JSON body, to raise from a control route."""
    text = json.dumps({"error": message})
    if status == 413:
        return web.HTTPRequestEntityTooLarge(
            MEDIA_MAX_BYTES, MEDIA_MAX_BYTES + 1, text=text, content_type="application/json"
        )
    error_class = {404: web.HTTPNotFound, 415: web.HTTPUnsupportedMediaType}.get(status, web.HTTPBadRequest)
    return error_class(text=text, content_type="application/json")
