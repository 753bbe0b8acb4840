"""languages.yml: the honest reply in the customer's language, or in English naming their language."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.handoff.language_replies import LanguageReplies


def test_the_shipped_file_has_a_translated_reply_for_every_common_language():
    replies = LanguageReplies.load()
    spanish = replies.handoff_reply("es")
    assert (spanish.language, spanish.translated) == ("es", True)
    assert "inglés" in spanish.text and "español" in spanish.text
    for code in ("fr", "de", "it", "pt"):
        assert replies.handoff_reply(code).translated
        assert replies.handoff_reply(code).text != replies.handoff_reply("en").text


def test_a_language_with_no_translation_gets_the_english_reply_naming_it():
    reply = LanguageReplies.load().handoff_reply("pl")
    assert (reply.language, reply.translated) == ("en", False)
    assert "colleague who speaks Polish" in reply.text and "{language}" not in reply.text
    unknown = LanguageReplies.load().handoff_reply("sw")
    assert "speaks sw." in unknown.text  # no name in the file: the code itself, never a raw placeholder


def test_stray_braces_in_an_editors_text_are_sent_as_written(tmp_path: Path):
    path = tmp_path / "languages.yml"
    path.write_text('handoff:\n  en: "Only English {for now} in {language}"\nnames: {es: Spanish}\n')
    assert LanguageReplies.load(path).handoff_reply("es").text == "Only English {for now} in Spanish"


@pytest.mark.parametrize(
    "text", ["handoff: {es: hola}\n", "- a list\n", "handoff: [en]\n", "names: 3\nhandoff: {en: hi}\n"]
)
def test_a_file_that_cannot_work_is_refused(tmp_path: Path, text: str):
    path = tmp_path / "languages.yml"
    path.write_text(text)
    with pytest.raises(ValueError):
        LanguageReplies.load(path)
