"""Brand tracking in the desk's Analytics: the charts as SVG (labels, titles, escaping), their CSV, edits.

The desk reads the keywords from its own monitoring.yml (MONITORING_CONFIG), checked at every request.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.desk.analytics_pages import BRAND_SCANS, MONITORING_FILE
from bot.desk.app import create_app
from bot.desk.brand_charts import HEAT_COLORS
from bot.monitoring.config import MonitoringConfig
from bot.storage.models import LoggedMessage

from ..desk.conftest import client_for
from .test_analytics import at
from .test_analytics_pages import plotted
from .test_brand import add_brand_week

WEEK = "from=2026-03-01&to=2026-03-07"
HOSTILE = "<script>alert(1)</script>"
KEYWORDS = """\
brand:
  own:
    - {name: Loom & Co, terms: [Loom & Co, loomandco, "@loomandco"]}
  products:
    - {name: Linen Shirt, terms: [linen shirt]}
    - {name: Wrap Dress, terms: [wrap dress]}
  competitors:
    - {name: North Knit, terms: [North Knit, "@northknit"]}
"""


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def keywords(tmp_path, monkeypatch) -> Path:
    """The desk's monitoring.yml, with the brand week's keywords."""
    path = tmp_path / "monitoring.yml"
    path.write_text(KEYWORDS)
    monkeypatch.setenv("MONITORING_CONFIG", str(path))
    return path


@pytest.fixture
async def server(config, database, people, keywords) -> AsyncIterator[TestServer]:
    """The desk with the brand week; monitoring.yml is checked for edits at every request."""
    await add_brand_week(database)
    app = create_app(config, database, database)
    app[MONITORING_FILE] = MonitoringConfig.watch({"MONITORING_CONFIG": str(keywords)}, every=0)
    async with TestServer(app) as test_server:
        yield test_server


@pytest.fixture
async def sam(server) -> AsyncIterator[TestClient]:
    client = await client_for(server, "sam")
    yield client
    await client.close()


async def svg(client: TestClient, name: str, query: str = WEEK) -> str:
    answer = await client.get(f"/analytics/chart/{name}.svg?{query}")
    assert answer.status == 200 and answer.content_type == "image/svg+xml", name
    return await answer.text()


async def test_brand_mentions_per_keyword_in_panels_by_group(sam):
    drawn = await svg(sam, "brand")
    titles = ("Our brand: 4 mentions", "Our products: 3 mentions", "Competitors: 2 mentions")
    assert all(f">{title}<" in drawn for title in titles), drawn
    for legend in ("Loom &amp; Co (4)", "Linen Shirt (2)", "Wrap Dress (2)", "North Knit (2)"):
        assert f">{legend}<" in drawn, legend
    assert plotted(drawn) >= 4 and "No " not in drawn and "incomplete" not in drawn


async def test_sentiment_per_keyword_as_shares_with_counts_and_means(sam):
    drawn = await svg(sam, "brand_sentiment")
    for row in ("Loom &amp; Co (ours)", "Linen Shirt (product)", "North Knit", "(competitor)"):
        assert f">{row}<" in drawn, row  # a long label takes two lines
    assert ">4, mean -0.15<" in drawn and ">2, mean -0.20<" in drawn
    assert plotted(drawn) >= 7  # Loom & Co has three moods, the others two each


async def test_the_activity_heat_map_names_every_cell(sam):
    drawn = await svg(sam, "activity")
    titles = re.findall(r"<title>([^<]*)</title>", drawn)
    busiest = "Mon 18:00 (3), Wed 12:00 (2), Thu 20:00 (1)"
    assert titles[0] == f"When the audience is active (UTC): 7 public items; busiest {busiest}"
    assert len(titles) == 1 + 7 * 24
    assert "Mon 18:00–19:00 UTC: 3 public items" in titles and "Sun 09:00–10:00 UTC: 1 public item" in titles
    assert "Tue 03:00–04:00 UTC: 0 public items" in titles
    cells = re.findall(
        r'<g id="heat-(\d)-(\d+)"><title>[^<]*</title>\s*<path [^>]*style="fill: (#\w+)', drawn
    )
    assert len(cells) == 7 * 24
    coloured = {(int(day), int(hour)) for day, hour, fill in cells if fill in HEAT_COLORS}
    assert coloured == {(0, 18), (2, 12), (3, 20), (6, 9)}  # the hours with posts; the rest are grey
    assert f">Busiest: {busiest}<" in drawn


async def test_every_brand_chart_has_its_csv(sam):
    mentions = rows(await (await sam.get(f"/analytics/export/brand.csv?{WEEK}")).text())
    assert mentions[0] == ["bucket_start_utc", "group", "keyword", "mentions"]
    assert ["2026-03-02", "own", "Loom & Co", "3"] in mentions
    assert ["2026-03-02", "products", "(any keyword)", "2"] in mentions
    moods = rows(await (await sam.get(f"/analytics/export/brand_sentiment.csv?{WEEK}")).text())
    assert moods[1] == ["own", "Loom & Co", "4", "2", "1", "1", "-0.15"]
    hours = rows(await (await sam.get(f"/analytics/export/activity.csv?{WEEK}")).text())
    assert hours[0] == ["weekday", "hour_utc", "public_items"] and hours[1 + 18] == ["Mon", "18", "3"]
    answer = await sam.get(f"/analytics/export/activity.csv?{WEEK}")
    assert (
        answer.headers["Content-Disposition"]
        == 'attachment; filename="loom-activity-2026-03-01-to-2026-03-07.csv"'
    )


async def test_keyword_names_are_escaped_in_charts_and_guarded_in_csv(sam, keywords, database):
    keywords.write_text(
        "brand:\n  own:\n"
        f"    - {{name: '{HOSTILE}', terms: [loomandco]}}\n"
        "    - {name: '=HYPERLINK(\"http://evil\")', terms: [north knit]}\n"
    )
    async with database.sessions() as session, session.begin():
        session.add(
            LoggedMessage(
                source="brand:hostile",
                kind="mention",
                channel="twitter",
                text=f"loomandco {HOSTILE}",
                at=at(3),
            )
        )
    for name in ("brand", "brand_sentiment"):
        drawn = await svg(sam, name)
        assert "<script" not in drawn and "&lt;script&gt;alert(1)&lt;/script&gt;" in drawn, name
        assert '=HYPERLINK("http://evil")' in drawn, name  # drawn as text: only the CSV must guard it
    export = rows(await (await sam.get(f"/analytics/export/brand_sentiment.csv?{WEEK}")).text())
    assert export[1][:3] == ["own", HOSTILE, "4"]  # three posts of the week name loomandco, and this one
    assert export[2][:3] == ["own", '\'=HYPERLINK("http://evil")', "1"]


async def test_an_edit_applies_to_the_past_at_the_next_request(sam, keywords, server):
    before = rows(await (await sam.get(f"/analytics/export/brand_sentiment.csv?{WEEK}")).text())
    assert [row[1] for row in before[1:5]] == ["Loom & Co", "Linen Shirt", "Wrap Dress", "North Knit"]
    keywords.write_text("brand:\n  competitors:\n    - {name: Bloom, terms: [bloom]}\n")
    after = rows(await (await sam.get(f"/analytics/export/brand_sentiment.csv?{WEEK}")).text())
    assert after[1:] == [
        ["competitors", "Bloom", "1", "0", "1", "0", "0.0"],
        ["competitors", "(any keyword)", "1", "0", "1", "0", "0.0"],
    ]
    assert server.app[BRAND_SCANS].made == 2


async def test_a_pages_brand_charts_share_one_scan(sam, server):
    names = ("chart/brand.svg", "chart/brand_sentiment.svg", "export/brand.csv", "export/brand_sentiment.csv")
    answers = await asyncio.gather(*(sam.get(f"/analytics/{name}?{WEEK}") for name in names))
    assert [a.status for a in answers] == [200] * 4
    assert server.app[BRAND_SCANS].made == 1
    await sam.get("/analytics/chart/brand.svg?from=2026-03-02&to=2026-03-02")  # another range
    assert server.app[BRAND_SCANS].made == 2


async def test_nothing_to_show_says_why(sam, keywords):
    quiet = "from=2020-01-01&to=2020-01-07"
    assert "No mentions of the tracked keywords in this range" in await svg(sam, "brand", quiet)
    assert "No mentions of the tracked keywords in this range" in await svg(sam, "brand_sentiment", quiet)
    assert "No public mentions or comments in this range" in await svg(sam, "activity", quiet)
    keywords.write_text("interval_seconds: 2\n")
    drawn = await svg(sam, "brand")
    assert "No keywords to track: list them under brand: in monitoring.yml" in drawn and plotted(drawn) == 0


async def test_brand_charts_are_for_supervisors(server):
    ada = await client_for(server, "ada")
    try:
        for path in ("/analytics/chart/brand.svg", "/analytics/export/activity.csv"):
            answer = await ada.get(f"{path}?{WEEK}")
            assert answer.status == 403 and "for supervisors" in await answer.text(), path
    finally:
        await ada.close()
