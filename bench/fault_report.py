"""The fault harness's report: one scenario's figures from its verdicts, posts and faults, and a table."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.fault_judge import Totals, Verdict
from bench.fault_load import Conversation, LoadBalancer
from bench.fault_ops import Fault, SendRecord
from bench.stats import percentile


def ack_percentiles(balancer: LoadBalancer) -> tuple[float | None, float | None]:
    """p50 and p99 of the time to a 200, over every POST that got one, in milliseconds."""
    times = [p.seconds for p in balancer.posts if p.status == 200]
    if not times:
        return None, None
    return round(percentile(times, 50) * 1000, 1), round(percentile(times, 99) * 1000, 1)


def figures(
    scenario: str,
    planned: int,
    conversations: list[Conversation],
    balancer: LoadBalancer,
    judged: list[Verdict],
    sends: list[SendRecord],
    faults: list[Fault],
    timings: dict[str, float],
    evidence: dict[str, Any],
) -> dict[str, Any]:
    """One scenario's report."""
    totals = Totals.of(judged)
    webhooks = [w for c in conversations for w in c.webhooks]
    p50, p99 = ack_percentiles(balancer)
    kills = [f for f in faults if f.kind in ("replica_kill", "kill_all")]
    recoveries = [f.details.get("recovery_s") for f in kills]
    redeliveries = [p for p in balancer.posts if p.redelivery]
    not_acked = sum(1 for w in webhooks if w.acked_at is None) + (planned - len(webhooks))
    report = {
        "scenario": scenario,
        "conversations": len(conversations),
        "messages": planned,
        "acked": totals.acked,
        "not_acked": not_acked,
        "answered": totals.answered,
        "lost": totals.lost,
        "duplicated": totals.duplicated,
        "duplicated_at_kill": totals.duplicates_at_kill,
        "out_of_order": totals.out_of_order,
        "conversations_out_of_order": totals.conversations_out_of_order,
        "faults_injected": len(faults),
        "injected_failures_served": sum(f.details.get("served", 0) for f in faults),
        "redeliveries_posted": len(redeliveries),
        "redeliveries_acked": sum(1 for p in redeliveries if p.status == 200),
        "retried_posts": sum(1 for p in balancer.posts if p.status != 200 and not p.redelivery),
        "acks_by_replica": dict(
            sorted(Counter(p.replica for p in balancer.posts if p.status == 200).items())
        ),
        "ack_p50_ms": p50,
        "ack_p99_ms": p99,
        "recovery_s": None if None in recoveries else max(recoveries, default=None),
        "faults": [f.to_json() for f in faults],
        "details": vars(totals),
        "platforms": dict(Counter(c.customer.platform for c in conversations)),
        "sends_accepted": sum(1 for s in sends if s.accepted and s.is_message),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "evidence": evidence,
        "per_conversation": [
            {
                "id": c.customer.user_id,
                "platform": c.customer.platform,
                "acked": v.acked,
                "answered": len(v.answered_at),
                "lost": len(v.lost),
                "duplicated": v.duplicated,
                "out_of_order": v.out_of_order,
            }
            for c, v in zip(conversations, judged, strict=True)
        ],
    }
    report["passed"] = (
        report["lost"] == report["duplicated"] == report["out_of_order"] == report["not_acked"] == 0
    )
    return report


ROWS = (
    ("messages acked", "acked"),
    ("not acked (gave up)", "not_acked"),
    ("answered", "answered"),
    ("lost", "lost"),
    ("duplicated", "duplicated"),
    ("sent again at a SIGKILL (window)", "duplicated_at_kill"),
    ("out of order", "out_of_order"),
    ("conversations out of order", "conversations_out_of_order"),
    ("faults injected", "faults_injected"),
    ("injected 429/503 served", "injected_failures_served"),
    ("redeliveries posted", "redeliveries_posted"),
    ("posts retried (no 200)", "retried_posts"),
    ("ack p50 (ms)", "ack_p50_ms"),
    ("ack p99 (ms)", "ack_p99_ms"),
    ("recovery after kill (s)", "recovery_s"),
)


def table(reports: list[dict[str, Any]]) -> str:
    """The figures side by side, as text."""
    width = max(len(label) for label, _ in ROWS) + 2
    lines = ["".ljust(width) + "".join(r["scenario"].rjust(12) for r in reports)]
    for label, key in ROWS:
        cells = [
            "never" if key == "recovery_s" and r[key] is None and r["faults_injected"] else str(r[key])
            for r in reports
        ]
        lines.append(label.ljust(width) + "".join(cell.rjust(12) for cell in cells))
    lines.append(
        "result".ljust(width) + "".join(("PASS" if r["passed"] else "FAIL").rjust(12) for r in reports)
    )
    return "\n".join(lines)
