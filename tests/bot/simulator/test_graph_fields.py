"""Graph's `fields` syntax as the fake parses it: modifiers, nested lists, and Graph's syntax errors."""

from __future__ import annotations

import pytest

from bot.simulator.graph_fields import Field, FieldSyntaxError, parse_fields


def test_plain_modified_and_nested_fields() -> None:
    parsed = parse_fields("id,mentioned_comment.comment_id(178){text, media{id,permalink}},username")
    assert parsed == (
        Field("id"),
        Field(
            "mentioned_comment",
            (("comment_id", "178"),),
            (Field("text"), Field("media", (), (Field("id"), Field("permalink")))),
        ),
        Field("username"),
    )


def test_no_list_means_the_defaults() -> None:
    assert parse_fields("") == ()
    assert parse_fields("mentioned_media.media_id(1)") == (Field("mentioned_media", (("media_id", "1"),)),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,", 'Syntax error "Expected name." at character 3: id,'),
        ("a{}", 'Syntax error "Expected name." at character 2: a{}'),
        ("a{b", 'Syntax error "Expected "}" instead of end of string." at character 3: a{b'),
        ("a.b(1", 'Syntax error "Expected ")", got end of string" at character 5: a.b(1'),
        ("a.b", 'Syntax error "Expected "(" instead of end of string." at character 3: a.b'),
        ("a{b}{c}", 'Syntax error "Expected end of string instead of "{"." at character 4: a{b}{c}'),
        ("a?b", 'Syntax error "Expected end of string instead of "?"." at character 1: a?b'),
    ],
)
def test_syntax_errors_read_like_graphs(text: str, message: str) -> None:
    with pytest.raises(FieldSyntaxError) as caught:
        parse_fields(text)
    assert str(caught.value) == message
