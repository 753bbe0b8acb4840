"""OAuth 1.0a request signing (HMAC-SHA1), as X requires for user-context calls.

RFC 5849 section 3.4; X's walk-through: https://docs.x.com/resources/fundamentals/authentication/oauth-1-0a/creating-a-signature
Only query and form-encoded body parameters are signed; JSON and multipart bodies are not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit


def encode(value: str) -> str:
    """RFC 3986 percent-encoding, as OAuth 1.0a defines it (only unreserved characters stay)."""
    return quote(str(value), safe="-._~")


@dataclass(frozen=True)
class OAuth1Credentials:
    """App (consumer) and user (access token) credentials."""

    consumer_key: str
    consumer_secret: str
    token: str
    token_secret: str


def base_string(method: str, url: str, params: Mapping[str, str]) -> str:
    """The signature base string: method, normalised URL and sorted, encoded parameters."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    all_params = {**query, **params}
    pairs = sorted((encode(k), encode(v)) for k, v in all_params.items())
    normalised = "&".join(f"{k}={v}" for k, v in pairs)
    base_url = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))
    return "&".join([method.upper(), encode(base_url), encode(normalised)])


def signature(credentials: OAuth1Credentials, method: str, url: str, params: Mapping[str, str]) -> str:
    """HMAC-SHA1 of the base string with `consumer_secret&token_secret`, base64."""
    key = f"{encode(credentials.consumer_secret)}&{encode(credentials.token_secret)}"
    digest = hmac.new(key.encode(), base_string(method, url, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def authorization_header(
    credentials: OAuth1Credentials,
    method: str,
    url: str,
    form: Mapping[str, str] | None = None,
    nonce: str | None = None,
    timestamp: int | None = None,
) -> str:
    """The `Authorization: OAuth ...` header for one request."""
    oauth = {
        "oauth_consumer_key": credentials.consumer_key,
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(timestamp if timestamp is not None else int(time.time())),
        "oauth_token": credentials.token,
        "oauth_version": "1.0",
    }
    oauth["oauth_signature"] = signature(credentials, method, url, {**oauth, **(form or {})})
    return "OAuth " + ", ".join(f'{encode(k)}="{encode(v)}"' for k, v in sorted(oauth.items()))
