"""OAuth 1.0a signing against X's documented worked example (runtime A)."""

from __future__ import annotations

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
