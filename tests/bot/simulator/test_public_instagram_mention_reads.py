"""Reading an Instagram mention through the fake Graph: field selection, auth, unknown ids, bad fields."""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient

from .conftest import APP_SECRET, IG_ID, IG_TOKEN, PAGE_ID, PAGE_TOKEN, graph_error
from .public_support import (
    IG_MEDIA,
    caption_mention,
    graph_get,
    ig_mention,
    public_comment,
    unsupported_request,
    uploaded_image,
)

GRAPH_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000")
MEDIA_FIELDS = "caption,media_type,media_url,permalink,timestamp,username"
COMMENT_FIELDS = "id,text,timestamp,username,media{id,permalink,media_url}"


async def test_reading_a_caption_mention_answers_only_the_fields_asked(sim: TestClient) -> None:
    url = await uploaded_image(sim)
    answer = await ig_mention(
        sim, "caption", text="Wearing @loomandco today", image_urls=[url], username="sam.doe"
    )
    media_id = answer["id"]
    status, read = await graph_get(sim, f"mentioned_media.media_id({media_id}){{{MEDIA_FIELDS}}}")
    assert status == 200
    assert list(read) == ["mentioned_media", "id"] and read["id"] == IG_ID
    media = read["mentioned_media"]
    assert list(media) == [*MEDIA_FIELDS.split(","), "id"]
    # As documented: a mentioned caption comes back without its @ signs.
    assert media["caption"] == "Wearing loomandco today"
    assert (media["media_type"], media["media_url"], media["username"], media["id"]) == (
        "IMAGE",
        url,
        "sam.doe",
        media_id,
    )
    assert media["permalink"].startswith("https://www.instagram.com/") and GRAPH_TIME.fullmatch(
        media["timestamp"]
    )
    assert (await graph_get(sim, f"mentioned_media.media_id({media_id}){{caption}}"))[1] == {
        "mentioned_media": {"caption": "Wearing loomandco today", "id": media_id},
        "id": IG_ID,
    }
    assert (await graph_get(sim, f"mentioned_media.media_id({media_id})"))[1] == {
        "mentioned_media": {"id": media_id},
        "id": IG_ID,
    }
    assert await graph_get(sim, None) == (200, {"id": IG_ID})


async def test_the_media_url_is_served_by_the_simulator(sim: TestClient) -> None:
    answer = await caption_mention(sim)
    _, read = await graph_get(sim, f"mentioned_media.media_id({answer['id']}){{media_url}}")
    image = await sim.get(urlsplit(read["mentioned_media"]["media_url"]).path)
    assert image.status == 200 and image.content_type == "image/png"


@pytest.mark.parametrize("with_photo", [True, False])
async def test_reading_a_comment_mention_with_its_media(sim: TestClient, with_photo: bool) -> None:
    url = await uploaded_image(sim) if with_photo else None
    answer = await ig_mention(
        sim,
        "comment",
        text="@loomandco is this yours?",
        username="sam.doe",
        **({"image_urls": [url]} if url else {}),
    )
    status, read = await graph_get(sim, f"mentioned_comment.comment_id({answer['id']}){{{COMMENT_FIELDS}}}")
    assert status == 200 and list(read) == ["mentioned_comment", "id"]
    comment = read["mentioned_comment"]
    assert list(comment) == ["id", "text", "timestamp", "username", "media"]
    assert (comment["id"], comment["text"], comment["username"]) == (
        answer["id"],
        "@loomandco is this yours?",
        "sam.doe",
    )
    media = comment["media"]
    assert list(media) == ["id", "permalink", "media_url"] and media["id"] == answer["post_id"]
    if url is not None:
        assert media["media_url"] == url
    else:
        assert media["media_url"].endswith("/static/stock-media.png")
    image = await sim.get(urlsplit(media["media_url"]).path)
    assert image.status == 200 and image.content_type == "image/png"
    _, bare = await graph_get(sim, f"mentioned_comment.comment_id({answer['id']}){{text,media}}")
    assert bare["mentioned_comment"] == {
        "text": "@loomandco is this yours?",
        "media": {"id": answer["post_id"]},
        "id": answer["id"],
    }


async def test_both_lookups_in_one_call(sim: TestClient) -> None:
    caption = await caption_mention(sim)
    comment = await ig_mention(sim, "comment")
    fields = (
        f"username,mentioned_comment.comment_id({comment['id']}),mentioned_media.media_id({caption['id']})"
    )
    assert (await graph_get(sim, fields))[1] == {
        "username": "loomandco",
        "mentioned_comment": {"id": comment["id"]},
        "mentioned_media": {"id": caption["id"]},
        "id": IG_ID,
    }


async def test_reading_needs_the_instagram_token_on_the_account(sim: TestClient) -> None:
    media_id = (await caption_mention(sim))["id"]
    fields = f"mentioned_media.media_id({media_id})"
    response = await sim.get(f"/v21.0/{IG_ID}", params={"fields": fields})
    assert response.status == 400 and graph_error(await response.json())["code"] == 190
    assert "invalid_token" in response.headers["WWW-Authenticate"]
    assert graph_error((await graph_get(sim, fields, token="nope"))[1])["code"] == 190
    unsupported_request((await graph_get(sim, fields, token=PAGE_TOKEN))[1], IG_ID)
    unsupported_request((await graph_get(sim, fields, node=PAGE_ID))[1], PAGE_ID)
    unsupported_request((await graph_get(sim, fields, node="me"))[1], "me")
    bearer = await sim.get(
        f"/v21.0/{IG_ID}", params={"fields": fields}, headers={"Authorization": f"Bearer {IG_TOKEN}"}
    )
    assert bearer.status == 200
    proof = hmac.new(APP_SECRET.encode(), IG_TOKEN.encode(), hashlib.sha256).hexdigest()
    assert (await graph_get(sim, fields, appsecret_proof=proof))[0] == 200
    status, answer = await graph_get(sim, fields, appsecret_proof="00")
    assert status == 400 and "appsecret_proof" in graph_error(answer)["message"]


async def test_ids_that_are_no_mention_of_us_are_refused(sim: TestClient) -> None:
    caption = (await caption_mention(sim))["id"]
    comment = await ig_mention(sim, "comment")
    plain = (await public_comment(sim, "instagram"))["id"]
    for lookup, wrong in [
        ("mentioned_media.media_id", comment["id"]),  # a comment mention is no caption mention
        ("mentioned_media.media_id", comment["post_id"]),  # the other account's caption names nobody
        ("mentioned_media.media_id", IG_MEDIA),  # our own media
        ("mentioned_media.media_id", "123"),
        ("mentioned_comment.comment_id", caption),
        ("mentioned_comment.comment_id", plain),  # a comment on our media, not a mention
    ]:
        status, answer = await graph_get(sim, f"{lookup}({wrong}){{id}}")
        assert status == 400
        unsupported_request(answer, wrong)


@pytest.mark.parametrize(
    ("fields", "position"),
    [
        ("mentioned_media.media_id({m}{{caption}}", None),
        ("mentioned_media.media_id({m}){{caption", None),
        ("mentioned_media.media_id({m}){{}}", None),
        ("id,,username", 3),
        ("mentioned_media.media_id({m}){{caption}}{{id}}", None),
        ("mentioned_media.({m})", 16),
    ],
)
async def test_malformed_fields_are_a_syntax_error(
    sim: TestClient, fields: str, position: int | None
) -> None:
    media_id = (await caption_mention(sim))["id"]
    text = fields.format(m=media_id)
    response = await sim.get(f"/v21.0/{IG_ID}", params={"access_token": IG_TOKEN, "fields": text})
    assert response.status == 400
    error = graph_error(await response.json())
    assert error["code"] == 2500 and error["type"] == "OAuthException"
    assert error["message"].startswith('Syntax error "') and error["message"].endswith(f": {text}")
    if position is not None:
        assert f"at character {position}:" in error["message"]
    assert "invalid_request" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ("mentioned_media.media_id({m}){{nope}}", "nonexisting field (nope) on node type (IGMedia)"),
        ("mentioned_media{{caption}}", "takes one parameter"),
        ("mentioned_media.media_id({m}).limit(2)", "takes one parameter"),
        ("mentioned_media.comment_id({m})", "takes one parameter"),
        ("followers_count", "nonexisting field (followers_count) on node type (IGUser)"),
        ("mentioned_media.media_id({m}){{caption{{id}}}}", "has no fields"),
    ],
)
async def test_fields_the_nodes_do_not_have(sim: TestClient, fields: str, fragment: str) -> None:
    media_id = (await caption_mention(sim))["id"]
    status, answer = await graph_get(sim, fields.format(m=media_id))
    assert status == 400
    error = graph_error(answer)
    assert error["code"] == 100 and fragment in error["message"]


async def test_injected_failures_apply_to_lookups(sim: TestClient) -> None:
    media_id = (await caption_mention(sim))["id"]
    rule = {"status": 503, "kind": "mention_lookup", "platform": "instagram", "recipient": media_id}
    assert (await sim.post("/_sim/fail", json=rule)).status == 200
    status, answer = await graph_get(sim, f"mentioned_media.media_id({media_id})")
    assert status == 503 and answer["error"]["is_transient"] is True
    assert (await graph_get(sim, f"mentioned_media.media_id({media_id})"))[0] == 200
