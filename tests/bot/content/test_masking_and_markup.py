"""Customer data out of suggested examples: replaced by stand-ins of the same shape, entities moved along."""

from __future__ import annotations

import pytest

from bot.content import masking
from bot.content.markup import MarkupError, parse
from bot.content.masking import Entity, mask


def test_email_order_number_phone_postcode_and_handle_are_replaced_by_stand_ins():
    text = "im jess.m@gmail.com, order 104523, call 07911 123456, postcode N1 9GU, cc @jess_m and @loomandco"
    masked = mask(text)
    for secret in ("jess.m@gmail.com", "104523", "07911 123456", "N1 9GU", "@jess_m"):
        assert secret not in masked.text
    assert "@loomandco" in masked.text  # the brand's own account is not customer data
    assert set(masked.replaced) == {"email", "order number", "phone", "postcode", "handle"}
    assert masking.EMAIL.search(masked.text).group().endswith("@example.com")
    order = masking.ORDER_NUMBER.search(masked.text).group()
    assert len(order) == 6 and order.startswith("1") and order != "104523"
    assert "07700 900" in masked.text  # Ofcom's drama range


def test_the_same_value_always_gets_the_same_stand_in_and_different_values_differ():
    assert mask("order 104523").text == mask("is 104523 shipped").text.replace("is ", "order ").replace(
        " shipped", ""
    )
    assert mask("104523").text != mask("104524").text


def test_an_entity_on_a_replaced_value_moves_onto_the_stand_in():
    text = "my email is jess.m@gmail.com, where is [linen shirt]"
    start = text.index("jess")
    product = text.index("linen")
    masked = mask(text, [Entity(start, start + 16, "email"), Entity(product, product + 11, "product")])
    email, shirt = masked.entities
    assert masked.text[email.start : email.end].endswith("@example.com") and email.entity == "email"
    assert masked.text[shirt.start : shirt.end] == "linen shirt" and shirt.entity == "product"


def test_an_entity_that_holds_only_part_of_a_replaced_value_is_dropped():
    text = "order 104523 please"
    masked = mask(text, [Entity(6, 9, "order_id"), Entity(13, 19, "thing")])
    assert [span.entity for span in masked.entities] == ["thing"]
    assert masked.text[masked.entities[0].start : masked.entities[0].end] == "please"


def test_a_text_without_customer_data_is_unchanged():
    masked = mask("do u ship to ireland", [Entity(13, 20, "place")])
    assert masked.text == "do u ship to ireland" and masked.replaced == ()
    assert masked.entities == (Entity(13, 20, "place"),)


def test_markup_reads_both_of_rasas_forms():
    text, spans = parse('where is [104523](order_id) and my [tee]{"entity": "product", "value": "t-shirt"}')
    assert text == "where is 104523 and my tee"
    assert spans == (Entity(9, 15, "order_id"), Entity(23, 26, "product", "t-shirt"))
    assert parse("plain   words ")[0] == "plain words"


@pytest.mark.parametrize(
    "line, fix",
    [
        ("where is [104523", "unmatched"),
        ("[x]{nope}", "not JSON"),
        ("   ", "empty"),
        ('[x]{"value": 1}', "which entity"),
    ],
)
def test_markup_that_rasa_would_misread_is_refused_with_the_fix(line, fix):
    with pytest.raises(MarkupError, match=fix):
        parse(line)
