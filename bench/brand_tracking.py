"""Brand tracking benchmark: keyword matching, the analytics scan and keyword spike checks on 100k messages.

A month of generated messages (default 100,000: 60% public, X mentions and comments, 40% DMs; about one
in four names a keyword of monitoring.yml's `brand:`) goes into a fresh SQLite file, and with
`--postgres URL` into a fresh database on that PostgreSQL server (dropped afterwards). Timed: matching
alone (texts in memory), the scan behind "Brand mentions" and "Sentiment per keyword" over the month
(public only, and with DMs), the active-hours query, and the first and the next spike check with keyword
scopes (the first reads and matches the day's texts, the next only what is new). Prints numbers and
writes results/brand_tracking_bench.json; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import insert

from bot.live_bus import Bus
from bot.monitoring.alerts import Alerts
from bot.monitoring.analytics import DateRange, active_hours, scan
from bot.monitoring.config import MonitoringConfig
from bot.monitoring.keywords import tracker
from bot.storage import migrate
from bot.storage.db import Database, create_sync_engine
from bot.storage.models import LoggedMessage

ROOT = Path(__file__).resolve().parent.parent
END = dt.datetime(2026, 3, 31, tzinfo=dt.timezone.utc)
MONTH = DateRange(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
TALK = """the my order is late where refund please love this great awful quality size colour delivery
still waiting thanks amazing service store parcel tracking return exchange fits small large soft itchy
stitching seam fabric wash shrank faded arrived today yesterday week again never always why how"""
WORDS = tuple(TALK.split())
MENTIONS = (
    "@loomandco",
    "Loom & Co",
    "loomandco",
    "linen shirts",
    "oversized hoodie",
    "chelsea boots",
    "wrap dress",
    "canvas tote",
    "North Knit",
    "@threadandvale",
)
PLACES = (("twitter", "mention"), ("facebook", "comment"), ("instagram", "comment"))


def messages(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` message_log rows over the month, ending at END."""
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 40))]
        if rng.random() < 0.25:
            words.insert(rng.randrange(len(words) + 1), rng.choice(MENTIONS))
        public = rng.random() < 0.6
        channel, kind = rng.choice(PLACES) if public else (rng.choice(("messenger", "instagram")), "dm")
        label = rng.choice(("negative", "neutral", "neutral", "positive"))
        rows.append(
            {
                "source": f"bench:{n}",
                "kind": kind,
                "channel": channel,
                "conversation_id": None if public else f"c{n % 5000}",
                "text": " ".join(words),
                "sentiment_label": label,
                "sentiment_score": {"negative": -0.6, "neutral": 0.0, "positive": 0.6}[label],
                "at": END - dt.timedelta(seconds=rng.uniform(1, 30 * 86400)),
            }
        )
    return rows


def fill(url: str, rows: list[dict[str, Any]]) -> float:
    """Migrate and insert the rows; the seconds it took."""
    started = time.perf_counter()
    migrate.upgrade(url)
    engine = create_sync_engine(url)
    try:
        with engine.begin() as connection:
            for offset in range(0, len(rows), 10_000):
                connection.execute(insert(LoggedMessage.__table__), rows[offset : offset + 10_000])
    finally:
        engine.dispose()
    return time.perf_counter() - started


async def timed(work: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await work
    return result, time.perf_counter() - started


async def measure(url: str, config: MonitoringConfig) -> dict[str, float | int]:
    """The database figures for one backend."""
    brand = config.brand
    db = Database(url)
    try:
        public, public_s = await timed(scan(db, MONTH, brand))
        with_dms = dataclasses.replace(brand, include_dms=True)
        everything, everything_s = await timed(scan(db, MONTH, with_dms))
        day = DateRange(dt.date(2026, 3, 30), dt.date(2026, 3, 30))
        _, day_s = await timed(scan(db, day, brand))
        _, hours_s = await timed(active_hours(db, MONTH))
        alerts = Alerts(db, config.spikes, Bus(), brand=brand)
        _, first_s = await timed(alerts.check(END))
        _, next_s = await timed(alerts.check(END + dt.timedelta(minutes=1)))
    finally:
        await db.close()
    return {
        "scan_public_rows": public.scanned,
        "scan_public_s": round(public_s, 3),
        "scan_with_dms_rows": everything.scanned,
        "scan_with_dms_s": round(everything_s, 3),
        "scan_one_day_hourly_s": round(day_s, 3),
        "active_hours_s": round(hours_s, 3),
        "spike_check_first_s": round(first_s, 3),
        "spike_check_next_s": round(next_s, 3),
    }


def fresh_postgres(server: str) -> tuple[str, Any]:
    """A new database on `server` and a function that drops it."""
    import psycopg

    name = f"loom_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(urlsplit(server)._replace(path=f"/{name}")), drop


def run(count: int = 100_000, postgres: str | None = None, out: Path | None = None) -> dict[str, Any]:
    """Generate, fill, measure; print and return the figures."""
    config = MonitoringConfig.from_env({})
    keywords = tracker(config.brand)
    rows = messages(count)
    texts = [row["text"] for row in rows]
    started = time.perf_counter()
    named = keywords.match_all(texts)
    matching = time.perf_counter() - started
    results: dict[str, Any] = {
        "messages": count,
        "keywords": len(keywords.keywords),
        "naming_a_keyword": sum(1 for names in named if names),
        "match_only_s": round(matching, 3),
        "match_us_per_message": round(matching / count * 1e6, 2),
    }
    print(f"{count:,} messages, {len(keywords.keywords)} keywords; {results['naming_a_keyword']:,} name one")
    print(f"  matching alone: {matching:.2f} s ({results['match_us_per_message']} µs a message)")
    backends = [("sqlite", None)] + ([("postgresql", postgres)] if postgres else [])
    for backend, server in backends:
        with tempfile.TemporaryDirectory() as scratch:
            drop = None
            url = f"sqlite:///{scratch}/bench.db"
            if server:
                url, drop = fresh_postgres(server)
            try:
                filled = fill(url, rows)
                figures = asyncio.run(measure(url, config))
            finally:
                if drop:
                    drop()
        results[backend] = {"fill_s": round(filled, 1), **figures}
        print(f"  {backend}: (filled in {filled:.1f} s)")
        for key, value in figures.items():
            print(f"    {key}: {value:,}" if isinstance(value, int) else f"    {key}: {value} s")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a fresh database is made and dropped)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "brand_tracking_bench.json")
    args = parser.parse_args()
    run(args.messages, args.postgres, args.out)


if __name__ == "__main__":
    main()
