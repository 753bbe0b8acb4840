"""Issue 13's guarantees under faults, on the real stack: the short version of `make fault` (runtime B).

Each test runs one scenario of bench/fault_harness.py with small numbers on its own ports (5850-5899,
shifted by E2E_PORT_OFFSET), its own PostgreSQL database and Redis database index. It first checks
that the faults really happened and the real services did the work (otherwise a pass would prove
nothing), then that nothing acked was lost, answered twice or out of order.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import replace
from typing import Any

import pytest

from bench.fault_harness import SHORT, run_embedded, run_replicas, table

PORT_OFFSET = int(os.environ.get("E2E_PORT_OFFSET", "0"))
REDIS_DB = 13  # `make fault` uses 12; the e2e stacks use 0


def guarantees(report: dict[str, Any]) -> None:
    """0 lost, 0 duplicated, 0 out of order, everything acked; the figures in the failure message."""
    figures = {k: report[k] for k in ("acked", "not_acked", "answered", "lost", "duplicated", "out_of_order")}
    explained = f"{table([report])}\n{json.dumps(report['details'], indent=1)}"
    assert figures == {
        "acked": report["messages"],
        "not_acked": 0,
        "answered": report["messages"],
        "lost": 0,
        "duplicated": 0,
        "out_of_order": 0,
    }, explained


@pytest.fixture(scope="module")
def replicas_report() -> dict[str, Any]:
    """One short run of the replicas scenario, shared by the tests below."""
    options = replace(
        SHORT["replicas"],
        port_base=5850 + PORT_OFFSET,
        redis_db=REDIS_DB,
        database=f"loom_fault_{uuid.uuid4().hex[:8]}",
    )
    return run_replicas(options, log=print)


@pytest.fixture(scope="module")
def embedded_report() -> dict[str, Any]:
    """One short run of the embedded scenario."""
    return run_embedded(replace(SHORT["embedded"], port_base=5875 + PORT_OFFSET), log=print)


def test_replicas_faults_really_happened_on_the_real_services(replicas_report):
    report = replicas_report
    kills = [f for f in report["faults"] if f["kind"] in ("replica_kill", "action_server_kill")]
    assert [f["target"] for f in kills] == ["rasa-2", "actions"]
    for fault in kills:
        assert fault["exit_codes"] == {fault["target"]: -9} and fault["restarted"], fault
    assert kills[0]["in_flight"] > 0  # it died with acked work not yet turned into a Rasa turn
    outages = {f["status"]: f["served"] for f in report["faults"] if f["kind"] == "platform_outage"}
    assert set(outages) == {429, 503} and all(served > 0 for served in outages.values()), outages
    assert report["redeliveries_posted"] > 0 and report["redeliveries_acked"] > 0
    assert report["retried_posts"] > 0  # webhooks refused by the dead replica went to the other one
    # Both replicas took webhooks, Rasa recorded the conversations in PostgreSQL, the connectors
    # used Redis, and the fake platforms received the replies.
    assert set(report["acks_by_replica"]) == {1, 2}
    assert report["evidence"]["tracker_store_rows"] > 0 and report["evidence"]["redis_keys"] > 0
    assert report["sends_accepted"] > 0 and report["answered"] > 0
    assert set(report["platforms"]) == {"messenger", "instagram", "twitter"}


def test_replicas_nothing_acked_is_lost_duplicated_or_reordered(replicas_report):
    guarantees(replicas_report)
    assert replicas_report["recovery_s"] is not None


def test_embedded_kill_really_happened_on_the_real_services(embedded_report):
    [fault] = embedded_report["faults"]
    assert fault["kind"] == "kill_all" and fault["restarted"]
    every_process_of_ours = {"actions": -9, "rasa": -9, "desk": -9, "monitoring": -9}  # killed at once
    assert fault["exit_codes"] == every_process_of_ours
    assert fault["acked_before"] == embedded_report["acked"] > 0
    assert fault["in_flight"] > 0  # the kill came while acked work was waiting for its turn
    assert embedded_report["redeliveries_posted"] > 0 and embedded_report["redeliveries_acked"] > 0
    assert embedded_report["evidence"]["tracker_db_bytes"] > 0  # Rasa's SQLite tracker store, in VAR_DIR


def test_embedded_every_acked_message_is_answered_exactly_once_after_the_kill(embedded_report):
    guarantees(embedded_report)
    assert embedded_report["sends_accepted"] >= embedded_report["messages"]  # through the fake platforms
