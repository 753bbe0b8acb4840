"""The desk's review pages over HTTP: who may see them, masking, accepting, the diff, writing the YAML."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.content import nlu_report
from bot.content.nlu_report import Reading
from bot.desk.app import create_app
from bot.monitoring.review_reader import ReviewReader
from bot.storage.models import AuditEntry, ReviewItem

from .conftest import PASSWORD, client_for, csrf_of

ROOT = Path(__file__).resolve().parents[3]
HOSTILE = '<img src=x onerror="alert(1)">'


@pytest.fixture
def content_root(tmp_path) -> Path:
    """A copy of the training data the pages may write into (never the repository's own)."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "data", root / "data")
    shutil.copytree(ROOT / "tests" / "nlu", root / "tests" / "nlu")
    shutil.copy(ROOT / "domain.yml", root / "domain.yml")
    return root


@pytest.fixture
async def server(config, database, people, accounts, content_root) -> AsyncIterator[TestServer]:
    await accounts.add("eve", "Eve", PASSWORD, role="editor")
    settings = {**config.__dict__, "content_root": content_root}
    async with TestServer(create_app(config.__class__(**settings), database, database)) as test_server:
        yield test_server


def fallback(text: str, guess: str, entities: list[dict] | None = None) -> dict:
    return {
        "event": "user",
        "text": text,
        "input_channel": "instagram",
        "parse_data": {
            "intent": {"name": "nlu_fallback", "confidence": 0.5},
            "intent_ranking": [
                {"name": "nlu_fallback", "confidence": 0.5},
                {"name": guess, "confidence": 0.31},
            ],
            "entities": entities or [],
        },
        "metadata": {},
    }


async def filed(database, store_event, conversation: str, event: dict) -> int:
    await store_event(conversation, event)
    await ReviewReader(database, database).catch_up()
    async with database.sessions() as session:
        return await session.scalar(select(ReviewItem.id).where(ReviewItem.text == event["text"]))


async def test_editors_see_only_the_review_pages_and_agents_not_those(server, open_ticket):
    ticket_id = await open_ticket()
    eve, ada, sam = [await client_for(server, name) for name in ("eve", "ada", "sam")]
    try:
        home = await eve.get("/queue")
        assert home.url.path == "/review" and "Review" in await home.text()
        for path in (f"/tickets/{ticket_id}", "/engagement", "/analytics", "/audit", "/fragments/queue"):
            assert (await eve.get(path, allow_redirects=False)).status == 403, path
        assert (await ada.get("/review")).status == 403
        assert (await ada.get("/review/changes")).status == 403
        assert (await sam.get("/review")).status == 200  # supervisors may review too
        transfer_to = await (await sam.get(f"/tickets/{ticket_id}")).text()
        assert "Eve" not in transfer_to  # an editor is never given a conversation
    finally:
        for client in (eve, ada, sam):
            await client.close()


async def test_the_queue_shows_masked_text_and_no_customer_id(server, database, store_event):
    text = f"order 104523 never came, im jess.m@gmail.com {HOSTILE}"
    await filed(database, store_event, "psid-2400510644654077", fallback(text, "order_status"))
    eve = await client_for(server, "eve")
    try:
        html = await (await eve.get("/review")).text()
        assert "1 message · read as <em>order_status</em>" in html
        for secret in ("104523", "jess.m@gmail.com", "2400510644654077", HOSTILE):
            assert secret not in html
        assert "&lt;img src=x" in html and "@example.com" in html
        assert "keep the customer's own order number, email (masked here)" in html
        assert '<option value="shipping_info">' in html and "EXTERNAL_csat_request" not in html
    finally:
        await eve.close()


async def test_accepting_a_corrected_example_shows_the_diff_then_writes_the_yaml(
    server, database, store_event, content_root
):
    text = "can i swap my jumper for a bigger one"
    item = await filed(database, store_event, "c1", fallback(text, "order_status"))
    other = await filed(database, store_event, "c2", fallback("lol ok", "affirm"))
    eve = await client_for(server, "eve")
    try:
        csrf = csrf_of(await (await eve.get("/review")).text())
        example = "can i swap my [jumper](product) for a bigger one"
        answer = await eve.post(
            "/review/accept",
            data={"csrf": csrf, "item": str(item), "intent": "return_item", "example": example},
        )
        assert "1 message accepted as return_item" in await answer.text()
        await eve.post("/review/dismiss", data={"csrf": csrf, "item": str(other)})

        changes = await (await eve.get("/review/changes")).text()
        assert f"+    - {example}" in changes.replace("&#39;", "'")
        before = {p: p.read_text() for p in (content_root / "data" / "nlu").glob("*.yml")}
        assert all(example not in t for t in before.values())  # nothing written before saving

        patch = await eve.get("/review/changes.patch")
        assert patch.headers["Content-Disposition"].startswith("attachment;")
        assert f"+    - {example}" in await patch.text()

        saved = await eve.post("/review/changes/save", data={"csrf": csrf})
        assert "1 example(s) written" in await saved.text()
        written = [p for p in content_root.rglob("*.yml") if example in p.read_text()]
        assert len(written) == 1
        async with database.sessions() as session:
            row = await session.get(ReviewItem, item)
            dismissed = await session.get(ReviewItem, other)
            actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "eve")))
        assert (row.status, row.decided_intent) == ("written", "return_item")
        assert row.written_to == str(written[0].relative_to(content_root))
        assert row.heldout == (written[0].parent.name == "nlu" and written[0].parent.parent.name == "tests")
        assert dismissed.status == "dismissed"
        assert {"review_accepted", "review_dismissed", "review_written"} <= set(actions)
        assert "Nothing to write" in await (await eve.get("/review/changes")).text()
    finally:
        await eve.close()


async def test_a_group_is_accepted_in_one_click_each_with_its_own_masked_example(
    server, database, store_event, content_root
):
    texts = ["do u ship to ireland", "do you ship to ireland?"]
    ids = [
        await filed(database, store_event, f"c{i}", fallback(t, "store_info")) for i, t in enumerate(texts)
    ]
    eve = await client_for(server, "eve")
    try:
        csrf = csrf_of(await (await eve.get("/review")).text())
        data = [("csrf", csrf), ("intent", "shipping_info"), *[("item", str(i)) for i in ids]]
        answer = await eve.post("/review/accept", data=data)
        assert "2 messages accepted as shipping_info" in await answer.text()
        async with database.sessions() as session:
            rows = list(await session.scalars(select(ReviewItem).where(ReviewItem.id.in_(ids))))
        assert sorted((r.status, r.decided_intent, r.example) for r in rows) == sorted(
            ("accepted", "shipping_info", t) for t in texts
        )
    finally:
        await eve.close()


async def test_bad_markup_and_unknown_intents_are_refused_with_the_fix(server, database, store_event):
    item = await filed(database, store_event, "c1", fallback("wheres my stuff", "order_status"))
    eve = await client_for(server, "eve")
    try:
        csrf = csrf_of(await (await eve.get("/review")).text())
        bad = await eve.post(
            "/review/accept",
            data={"csrf": csrf, "item": str(item), "intent": "order_status", "example": "wheres my [stuff"},
        )
        assert "unmatched [" in await bad.text()
        unknown = await eve.post(
            "/review/accept", data={"csrf": csrf, "item": str(item), "intent": "nlu_fallback"}
        )
        assert "choose one of the listed intents" in await unknown.text()
        async with database.sessions() as session:
            assert (await session.get(ReviewItem, item)).status == "open"
    finally:
        await eve.close()


def write_report(root: Path, broken: bool) -> None:
    """A regression report as `bot nlu check` writes it (bot/content/nlu_report.py builds both)."""
    expected = ["greet"] * 4 + ["refund_status"] * 4
    before = [Reading(f"m{i}", e, e) for i, e in enumerate(expected)]
    after = [
        Reading(
            r.text, r.expected, "cancel_order" if broken and r.expected == "refund_status" else r.expected
        )
        for r in before
    ]
    report = nlu_report.build(
        before,
        after,
        nlu_report.Limits(),
        baseline_model="models/current.tar.gz",
        candidate_model="models/model-x.tar.gz",
        trained=True,
        data_note="changed",
        data_unchanged=False,
        heldout="tests/nlu",
        fallback_counted=False,
    )
    folder = root / "results" / "nlu_check"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report))


async def test_the_model_page_shows_the_report_and_loads_only_after_a_current_safe_one(server, content_root):
    eve = await client_for(server, "eve")
    try:
        page = await (await eve.get("/review/model")).text()
        assert "No regression report yet" in page and 'id="run-swap" disabled' in page
        csrf = csrf_of(page)
        refused = await eve.post("/review/model/swap", data={"csrf": csrf})
        assert "Run the regression report first" in await refused.text()

        write_report(content_root, broken=True)
        page = await (await eve.get("/review/model")).text()
        assert "Not safe to ship" in page and "refund_status F1 1.00 -&gt; 0.00" in page
        assert 'id="run-swap" disabled' in page
        assert (
            "<td>m4</td><td>refund_status</td><td>refund_status</td><td>cancel_order</td><td>broken</td>"
            in page
        )

        write_report(content_root, broken=False)
        page = await (await eve.get("/review/model")).text()
        assert "Safe to ship" in page and 'id="run-swap" disabled' not in page

        (content_root / "data" / "nlu" / "orders.yml").touch()  # the data changed after the report
        os.utime(content_root / "data" / "nlu" / "orders.yml", (time.time() + 5, time.time() + 5))
        page = await (await eve.get("/review/model")).text()
        assert "The data changed after this report" in page and 'id="run-swap" disabled' in page
        refused = await eve.post("/review/model/swap", data={"csrf": csrf})
        assert "Run the regression report first" in await refused.text()
    finally:
        await eve.close()
