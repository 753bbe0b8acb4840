"""How long a public photo question waits for its answer: comment in, the bot's public reply out.

A customer comments "Where can I buy this?" with a changed photo of a catalogue product under the
brand's Facebook post (the simulator signs the feed webhook); the channel stores it, the monitoring
service's engagement worker files it (Rasa's parse, the catalogue's photo search, the logo detector)
and answers through the connector; timed until the simulator's fake Graph API records the reply.
The worker reads new items every `interval_seconds` of monitoring.yml (2 s), which bounds the wait
from below. Run against a running stack: `python -m bench.engagement --simulator http://127.0.0.1:5080`
(`make run`), or through `make bench`, which starts its own.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
import uuid
from pathlib import Path

import requests
from PIL import Image

from bench.photo_queries import queries
from bench.stats import percentile
from bot.catalog.demo_images import write_catalog_images
from bot.storage.seed import load_yaml


def public_reply_latency(simulator_url: str, count: int = 20) -> dict:
    """Seconds from a photo comment to the bot's public reply, over `count` catalogue products."""
    products = load_yaml("catalog.yml")["products"][:count]
    timings, named, for_agents = [], 0, 0
    with tempfile.TemporaryDirectory() as scratch:
        written = write_catalog_images(products, Path(scratch))
        for number, product in enumerate(products):
            with Image.open(written[product["sku"]][0]) as image:
                _, query = queries(image.convert("RGB"), seed=900 + number, per_image=1)[0]
            buffer = io.BytesIO()
            query.save(buffer, "JPEG", quality=85)
            files = {"file": ("q.jpg", buffer.getvalue(), "image/jpeg")}
            upload = requests.post(f"{simulator_url}/_sim/media", files=files, timeout=30).json()
            comment = {
                "platform": "facebook",
                "user_id": str(6100000000000000 + uuid.uuid4().int % 10**12),
                "name": "Bench Customer",
                "text": "Where can I buy this?",
                "image_urls": [upload["url"]],
            }
            started = time.perf_counter()
            item = requests.post(f"{simulator_url}/_sim/public_comment", json=comment, timeout=30).json()[
                "id"
            ]
            reply = wait_for_reply(simulator_url, item, started)
            if reply is None:  # a match not sure enough: it waits in the desk for an agent
                for_agents += 1
                continue
            timings.append(time.perf_counter() - started)
            named += product["title"] in reply
    return {
        "comments": len(products),
        "answered_by_the_bot": len(timings),
        "answered_naming_the_product": named,
        "left_for_an_agent": for_agents,
        "p50_s": round(percentile(timings, 50), 2) if timings else None,
        "p95_s": round(percentile(timings, 95), 2) if timings else None,
        "max_s": round(max(timings), 2) if timings else None,
    }


def wait_for_reply(simulator_url: str, item: str, started: float, timeout: float = 20) -> str | None:
    """The text of the first public reply to `item`; None when none came (left for an agent)."""
    while time.perf_counter() - started < timeout:
        calls = requests.get(f"{simulator_url}/_sim/public_actions", timeout=30).json()
        done = [c for c in calls if c["target_id"] == item and c["kind"] == "public_reply" and c["accepted"]]
        if done:
            return str(done[0]["text"])
        time.sleep(0.05)
    return None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulator", default="http://127.0.0.1:5080")
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    print(public_reply_latency(args.simulator, args.count))
