"""OAuth 1.0a signing (oauthlib) against X's and RFC 5849's worked examples and the simulator's verifier."""

from __future__ import annotations

import pytest

from bot.simulator.x_oauth import Credentials, NonceCache, OAuthError, SignedRequest, verify
from bot.x_oauth import OAuth1Credentials, authorization_header, base_string, encode, signature

# https://docs.x.com/resources/fundamentals/authentication/oauth-1-0a/creating-a-signature
CREDENTIALS = OAuth1Credentials(
    consumer_key="xvz1evFS4wEEPTGEFPHBog",
    consumer_secret="kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
    token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
    token_secret="LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
)
URL = "https://api.twitter.com/1.1/statuses/update.json?include_entities=true"
FORM = {"status": "Hello Ladies + Gentlemen, a signed OAuth request!"}
OAUTH = {
    "oauth_consumer_key": CREDENTIALS.consumer_key,
    "oauth_nonce": "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
    "oauth_signature_method": "HMAC-SHA1",
    "oauth_timestamp": "1318622958",
    "oauth_token": CREDENTIALS.token,
    "oauth_version": "1.0",
}


def test_percent_encoding():
    assert encode("Ladies + Gentlemen") == "Ladies%20%2B%20Gentlemen"
    assert encode("Dogs, Cats & Mice") == "Dogs%2C%20Cats%20%26%20Mice"
    assert encode("☃") == "%E2%98%83"


def test_base_string_of_the_documented_example():
    base = base_string("post", URL, {**OAUTH, **FORM})
    assert base.startswith(
        "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue"
    )
    assert "status%3DHello%2520Ladies%2520%252B%2520Gentlemen" in base


def test_signature_of_the_documented_example():
    assert signature(CREDENTIALS, "POST", URL, {**OAUTH, **FORM}) == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="


def test_header_carries_every_oauth_parameter():
    header = authorization_header(
        CREDENTIALS, "POST", URL, FORM, nonce=OAUTH["oauth_nonce"], timestamp=1318622958
    )
    assert header.startswith("OAuth ")
    assert 'oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"' in header
    for key in OAUTH:
        assert f'{key}="' in header


# RFC 5849 section 3.4.1.1's worked example: `a3` is in the query and in the form body, and both pairs
# are signed (section 3.4.1.3.2: sorted by name, then by value). The old hand-written signer kept one.
RFC_URL = "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b"
RFC_FORM = [("c2", ""), ("a3", "2 q")]  # the body `c2&a3=2+q`
RFC_OAUTH = [
    ("oauth_consumer_key", "9djdj82h48djs9d2"),
    ("oauth_token", "kkk9d7dh3k39sjv7"),
    ("oauth_signature_method", "HMAC-SHA1"),
    ("oauth_timestamp", "137131201"),
    ("oauth_nonce", "7d8f3e4a"),
]
RFC_BASE_STRING = (
    "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q"
    "%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_"
    "key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m"
    "ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk"
    "9d7dh3k39sjv7"
)


def test_the_rfc_example_keeps_both_pairs_of_a_repeated_name():
    assert base_string("POST", RFC_URL, [*RFC_FORM, *RFC_OAUTH]) == RFC_BASE_STRING


def test_a_repeated_query_key_and_a_form_body_are_signed_pair_by_pair():
    """`?ids=2&ids=1` plus a form body: every pair is signed, as the simulator's own verifier checks."""
    url = "https://api.x.com/2/tweets?ids=2&ids=1&expansions=author_id"
    form = [("status", "Hello Ladies + Gentlemen"), ("ids", "0")]
    assert "%26ids%3D0%26ids%3D1%26ids%3D2%26" in base_string("POST", url, [*form, *OAUTH.items()])

    header = authorization_header(CREDENTIALS, "POST", url, form, nonce="n0nce", timestamp=1318622958)
    credentials = Credentials(
        CREDENTIALS.consumer_key, CREDENTIALS.consumer_secret, CREDENTIALS.token, CREDENTIALS.token_secret
    )
    query = (("ids", "2"), ("ids", "1"), ("expansions", "author_id"))
    signed = SignedRequest("POST", "https://api.x.com/2/tweets", query=query, form=tuple(form))
    verify(signed, header, credentials, now=1318622958, nonces=NonceCache())  # raises if they disagree
    # The old signer merged names (`{**query, **form}`): it signed `ids=0` alone.
    merged = SignedRequest("POST", signed.uri, query=query[2:], form=tuple(form))
    with pytest.raises(OAuthError, match="signature mismatch"):
        verify(merged, header, credentials, now=1318622958, nonces=NonceCache())
