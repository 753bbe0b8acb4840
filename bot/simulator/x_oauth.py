"""OAuth 1.0a (RFC 5849) HMAC-SHA1 request signatures, checked the way X checks user-context calls.

X's walk-through: https://docs.x.com/fundamentals/authentication/oauth-1-0a/creating-a-signature
(base string = METHOD & encoded base URL & encoded sorted parameters; key = consumer secret & token
secret). Parameters are the query's, the `oauth_*` ones from the header (not `oauth_signature` or
`realm`), and the body's only for `application/x-www-form-urlencoded` bodies (RFC 5849 §3.4.1.3.1):
JSON and multipart bodies are not signed. Pure functions; the caller passes the clock and the nonces.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from bot.simulator.const import OAUTH_WINDOW_SECONDS

SIGNATURE_METHOD = "HMAC-SHA1"
REQUIRED = (
    "oauth_consumer_key",
    "oauth_token",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
)
_HEADER_PARAM = re.compile(r'\s*([A-Za-z0-9_.~%-]+)\s*=\s*"([^"]*)"\s*')
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class OAuthError(Exception):
    """Why a request's OAuth 1.0a authorization was refused (for the record; X only says Unauthorized)."""


@dataclass(frozen=True)
class Credentials:
    """The app's consumer key pair and the brand account's access token pair."""

    consumer_key: str
    consumer_secret: str
    token: str
    token_secret: str


@dataclass
class NonceCache:
    """Nonces seen in the last `window` seconds, per consumer key and token."""

    window: float = OAUTH_WINDOW_SECONDS
    _seen: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def used(self, key: tuple[str, str, str], now: float) -> bool:
        """Whether `key` was already used within the window (forgets older entries on the way)."""
        self._seen = {k: t for k, t in self._seen.items() if now - t <= self.window}
        return key in self._seen

    def remember(self, key: tuple[str, str, str], now: float) -> None:
        """Mark `key` as used now."""
        self._seen[key] = now


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8: everything but ALPHA, DIGIT, `-`, `.`, `_`, `~`."""
    return quote(value.encode("utf-8"), safe="~")


def parse_authorization(header: str | None) -> dict[str, str]:
    """The parameters of an `Authorization: OAuth k="v", ...` header, percent-decoded."""
    if not header:
        raise OAuthError("no Authorization header")
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "oauth":
        raise OAuthError(f"Authorization scheme is {scheme!r}, not OAuth")
    params: dict[str, str] = {}
    for part in rest.split(","):
        if not part.strip():
            continue
        match = _HEADER_PARAM.fullmatch(part)
        if match is None:
            raise OAuthError(f"malformed Authorization parameter {part.strip()!r}")
        name, value = unquote(match.group(1)), unquote(match.group(2))
        if name in params:
            raise OAuthError(f"{name} given twice")
        params[name] = value
    return params


def base_string_uri(scheme: str, host: str, path: str) -> str:
    """Scheme and host in lower case, the default port dropped, the path as sent (RFC 5849 §3.4.1.2)."""
    scheme = scheme.lower()
    host = host.lower()
    default_port = _DEFAULT_PORTS.get(scheme)
    if default_port and host.endswith(":" + default_port):
        host = host[: -len(default_port) - 1]
    return f"{scheme}://{host}{path or '/'}"


def normalized_parameters(params: Iterable[tuple[str, str]]) -> str:
    """Encode every name and value, sort by name then value, join as `name=value&...`."""
    encoded = sorted((percent_encode(name), percent_encode(value)) for name, value in params)
    return "&".join(f"{name}={value}" for name, value in encoded)


def signature_base_string(method: str, uri: str, params: Iterable[tuple[str, str]]) -> str:
    """`METHOD&encoded URI&encoded normalized parameters`."""
    return "&".join((method.upper(), percent_encode(uri), percent_encode(normalized_parameters(params))))


def hmac_sha1_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    """Base64 of HMAC-SHA1 over the base string, keyed `encoded consumer secret&encoded token secret`."""
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class SignedRequest:
    """What the signature covers: method, base URI, and the query and form-body parameters."""

    method: str
    uri: str
    query: tuple[tuple[str, str], ...] = ()
    form: tuple[tuple[str, str], ...] = ()


def verify(
    request: SignedRequest,
    authorization: str | None,
    credentials: Credentials,
    now: float,
    nonces: NonceCache,
) -> None:
    """Raise `OAuthError` unless the request is signed with `credentials`, fresh and not replayed."""
    oauth = parse_authorization(authorization)
    missing = [name for name in REQUIRED if not oauth.get(name)]
    if missing:
        raise OAuthError(f"missing {', '.join(missing)}")
    if oauth["oauth_signature_method"] != SIGNATURE_METHOD:
        raise OAuthError(f"oauth_signature_method must be {SIGNATURE_METHOD}")
    # RFC 5849 makes oauth_version optional; when sent it must be 1.0.
    if oauth.get("oauth_version", "1.0") != "1.0":
        raise OAuthError("oauth_version must be 1.0")
    if not hmac.compare_digest(oauth["oauth_consumer_key"].encode(), credentials.consumer_key.encode()):
        raise OAuthError("unknown oauth_consumer_key")
    if not hmac.compare_digest(oauth["oauth_token"].encode(), credentials.token.encode()):
        raise OAuthError("unknown oauth_token")
    timestamp = oauth["oauth_timestamp"]
    if not timestamp.isascii() or not timestamp.isdigit():
        raise OAuthError("oauth_timestamp must be whole seconds")
    if abs(now - int(timestamp)) > OAUTH_WINDOW_SECONDS:
        raise OAuthError(f"oauth_timestamp {timestamp} is more than 5 minutes from now ({int(now)})")
    nonce_key = (oauth["oauth_consumer_key"], oauth["oauth_token"], oauth["oauth_nonce"])
    if nonces.used(nonce_key, now):
        raise OAuthError("oauth_nonce was already used")
    signed = [(name, value) for name, value in oauth.items() if name not in ("oauth_signature", "realm")]
    base = signature_base_string(request.method, request.uri, [*request.query, *request.form, *signed])
    expected = hmac_sha1_signature(base, credentials.consumer_secret, credentials.token_secret)
    if not hmac.compare_digest(oauth["oauth_signature"].encode(), expected.encode()):
        raise OAuthError(f"signature mismatch; the simulator signed {base!r}")
    nonces.remember(nonce_key, now)
