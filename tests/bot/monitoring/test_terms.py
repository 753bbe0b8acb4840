"""Words, phrases and @handles found in text: the matcher moderation and brand tracking share."""

from __future__ import annotations

import pytest

from bot.monitoring.config import BrandSettings, Keyword
from bot.monitoring.const import COMMENT, DM, MENTION
from bot.monitoring.keywords import KeywordTracker
from bot.monitoring.terms import Terms, handle_parts, pattern

BRAND = KeywordTracker(
    BrandSettings(
        keywords=(
            Keyword("Loom & Co", "own", ("Loom & Co", "Loom and Co", "@loomandco")),
            Keyword("Linen Shirt", "products", ("linen shirt",)),
            Keyword("Wrap Dress", "products", ("wrap dress",)),
            Keyword("Chelsea Boots", "products", ("chelsea boot*",)),
            Keyword("North Knit", "competitors", ("North Knit", "@north.knit")),
        )
    )
)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("thanks @loomandco!", ["Loom & Co"]),
        ("THANKS @LoomAndCo.", ["Loom & Co"]),  # any case; the full stop ends the sentence
        ("(@loomandco) and @north.knit", ["Loom & Co", "North Knit"]),
        ("@loomandco's returns", ["Loom & Co"]),
        ("@north.knit.", ["North Knit"]),
        ("love LOOM  &  CO", ["Loom & Co"]),
        ("Loom and Co again", ["Loom & Co"]),
        ("my linen shirts shrank", ["Linen Shirt"]),  # plurals
        ("Linen-Shirt", ["Linen Shirt"]),
        ("two wrap dresses", ["Wrap Dress"]),
        ("chelsea booties", ["Chelsea Boots"]),  # a trailing * allows any ending
        ("n0rth kn1t is cheaper", ["North Knit"]),  # look-alikes, as the block list reads them
        ("@loomandco: my linen shirt vs north knit", ["Loom & Co", "Linen Shirt", "North Knit"]),
    ],
)
def test_keywords_are_found_as_words_phrases_and_handles(text, named):
    assert list(BRAND.match(text)) == named


@pytest.mark.parametrize(
    "text",
    [
        "@loomandco_outlet has a sale",  # another handle
        "@loomandcofans",
        "write to help@loomandco.example",  # an e-mail address, not the handle
        "@north.knitwear",
        "heirloom & co",  # part of a word
        "bloom and co",
        "linenshirt",
        "linen shirting",
        "unwrap dress",
        "northknit",
        "loom",
    ],
)
def test_no_partial_word_or_other_handle_is_a_hit(text):
    assert BRAND.match(text) == (), text


def test_the_terms_found_and_the_kinds_that_count():
    terms = Terms(["@loomandco", "linen shirt", "  ", "*"])  # blank terms and a lone * are dropped
    assert terms.terms == ("@loomandco", "linen shirt")
    assert terms.matches("@LOOMANDCO my Linen Shirt") == ["@loomandco", "linen shirt"]
    assert terms.found_in("my linen shirt") and not terms.found_in("my linen scarf")
    assert BRAND.kinds == (MENTION, COMMENT)
    assert KeywordTracker(BrandSettings(include_dms=True)).kinds == (MENTION, COMMENT, DM)
    assert not KeywordTracker(BrandSettings())


@pytest.mark.parametrize("handle", ["@", "@@loom", "@loom and co", "@loom!", "@.", "@loom."])
def test_a_handle_is_letters_digits_underscores_and_inner_dots(handle):
    with pytest.raises(ValueError, match="is not an @handle"):
        handle_parts(handle)


def test_a_pattern_is_lower_case_and_starts_with_its_first_letter():
    # The regex engine skips ahead to a possible first character only when the pattern starts with one.
    assert pattern("Loom & Co").startswith("[l1\\|](?<!")
    assert pattern("@LoomAndCo").startswith("@(?<!") and "loomandco" in pattern("@LoomAndCo")
