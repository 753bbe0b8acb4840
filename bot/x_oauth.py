"""OAuth 1.0a request signing (HMAC-SHA1), as X requires for user-context calls, done by oauthlib.

RFC 5849 section 3.4; X's walk-through: https://docs.x.com/resources/fundamentals/authentication/oauth-1-0a/creating-a-signature
Only query and form-encoded body parameters are signed; JSON and multipart bodies are not. A name that
appears more than once (`?ids=1&ids=2`, or in both the query and the body) is signed once per pair,
sorted by name then value (RFC 5849 section 3.4.1.3.2). Used by both runtimes (the connectors' X
client, and monitoring's photo fetches); the simulator checks signatures with its own, independent code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_AUTH_HEADER, Client
from oauthlib.oauth1.rfc5849 import signature as rfc5849
from oauthlib.oauth1.rfc5849.utils import escape

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
Params = Mapping[str, str] | Iterable[tuple[str, str]]
X_ENV = ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")


def encode(value: str) -> str:
    """RFC 3986 percent-encoding, as OAuth 1.0a defines it (only unreserved characters stay)."""
    return escape(str(value))


@dataclass(frozen=True)
class OAuth1Credentials:
    """App (consumer) and user (access token) credentials."""

    consumer_key: str
    consumer_secret: str
    token: str
    token_secret: str


def _pairs(params: Params | None) -> list[tuple[str, str]]:
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    return [(str(name), str(value)) for name, value in items]


def base_string(method: str, url: str, params: Params) -> str:
    """The signature base string: method, normalised URL, and every query and given parameter, sorted.

    `params` are the `oauth_*` parameters and the form body's, as a mapping or as (name, value) pairs
    (pairs keep a name that repeats). The query's pairs are taken from `url`, repeats included.
    """
    collected = rfc5849.collect_parameters(uri_query=urlsplit(url).query, body=_pairs(params))
    return rfc5849.signature_base_string(
        method, rfc5849.base_string_uri(url), rfc5849.normalize_parameters(collected)
    )


def signature(credentials: OAuth1Credentials, method: str, url: str, params: Params) -> str:
    """HMAC-SHA1 of the base string with `consumer_secret&token_secret`, base64."""
    return rfc5849.sign_hmac_sha1(
        base_string(method, url, params), credentials.consumer_secret, credentials.token_secret
    )


def authorization_header(
    credentials: OAuth1Credentials,
    method: str,
    url: str,
    form: Params | None = None,
    nonce: str | None = None,
    timestamp: int | None = None,
) -> str:
    """The `Authorization: OAuth ...` header for one request (`form`: its form-encoded body, if any)."""
    client = Client(
        credentials.consumer_key,
        client_secret=credentials.consumer_secret,
        resource_owner_key=credentials.token,
        resource_owner_secret=credentials.token_secret,
        signature_method=SIGNATURE_HMAC_SHA1,
        signature_type=SIGNATURE_TYPE_AUTH_HEADER,
        nonce=nonce,
        timestamp=None if timestamp is None else str(timestamp),
    )
    body = _pairs(form) or None
    headers = {"Content-Type": FORM_CONTENT_TYPE} if body else None
    _, signed, _ = client.sign(url, method.upper(), body=body, headers=headers)
    return str(signed["Authorization"])


def x_credentials(env: Mapping[str, str] | None = None) -> OAuth1Credentials | None:
    """Our X account's credentials from the environment, None when X is not set up.

    The services that fetch X media (the action server, the desk, monitoring) read the same variables
    as the X channel; `make run` and the test stacks set them to the simulator's.
    """
    env = os.environ if env is None else env
    values = [env.get(name, "") for name in X_ENV]
    return OAuth1Credentials(*values) if all(values) else None


def x_signer(credentials: OAuth1Credentials | None) -> Callable[[str], Mapping[str, str]] | None:
    """Headers for a GET of X media (DM and tweet photos), signed by our account (None without them)."""
    if credentials is None:
        return None
    return lambda url: {"Authorization": authorization_header(credentials, "GET", url)}
