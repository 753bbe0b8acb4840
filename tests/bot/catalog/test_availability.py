"""Finding the product a customer names, and answering for a colour and size."""

from __future__ import annotations

import pytest

from bot.catalog.availability import ProductInfo, Variant, availability_reply, match_products


def product(pid: int, title: str, category: str, variants: list[tuple[str, str, int]]) -> ProductInfo:
    return ProductInfo(
        id=pid,
        title=title,
        category=category,
        price="£45.00",
        url=f"https://shop.example/{pid}",
        variants=tuple(Variant(*v) for v in variants),
    )


SHIRT = product(1, "Linen Shirt", "shirts", [("navy", "M", 0), ("navy", "L", 3), ("white", "M", 5)])
OXFORD = product(2, "Oxford Shirt", "shirts", [("white", "M", 1)])
CHELSEA = product(3, "Chelsea Boots", "boots", [("black", "39", 2)])
ANKLE = product(4, "Ankle Boots", "boots", [("black", "39", 0)])
SNEAKERS = product(5, "Canvas Sneakers", "sneakers", [("white", "40", 0)])
CATALOG = [SHIRT, OXFORD, CHELSEA, ANKLE, SNEAKERS]


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("linen shirt", ["Linen Shirt"]),
        ("Linen Shirts", ["Linen Shirt"]),
        ("shirt", ["Linen Shirt", "Oxford Shirt"]),
        ("boots", ["Chelsea Boots", "Ankle Boots"]),
        ("trainers", ["Canvas Sneakers"]),
        ("chelsea boot", ["Chelsea Boots"]),
        ("spaceship", []),
        ("", []),
    ],
)
def test_match_products(query, titles):
    assert [p.title for p in match_products(query, CATALOG)] == titles


def test_in_stock_variant():
    reply = availability_reply(SHIRT, "navy", "L")
    assert reply.key == "in_stock"
    assert reply.values["variant"] == "in navy, size L"


def test_sold_out_variant_suggests_what_is_left():
    reply = availability_reply(SHIRT, "navy", "M")
    assert reply.key == "out_of_stock"
    assert reply.values["alternatives"] == "In navy we still have L."


def test_colour_or_size_the_product_does_not_come_in():
    assert availability_reply(SHIRT, "pink", None).key == "color_not_offered"
    assert availability_reply(SHIRT, None, "XXL").key == "size_not_offered"


def test_no_colour_or_size_lists_what_is_in_stock():
    reply = availability_reply(SHIRT, None, None)
    assert reply.key == "product_options"
    assert reply.values["colors"] == "navy and white"
    assert reply.values["sizes"] == "L and M"


def test_everything_sold_out():
    assert availability_reply(SNEAKERS, None, None).key == "out_of_stock"


def test_case_and_spacing_do_not_matter():
    assert availability_reply(SHIRT, " Navy", "l").key == "in_stock"
