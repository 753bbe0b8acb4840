"""Every service's `GET /metrics` on the default stack, after a customer's message through the simulator.

The Rasa server (connectors), the action server and the desk each answer in Prometheus' text format,
and what the message caused shows: one message in, the reply out, an action run, desk requests.
"""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from bot.devtools.devstack import Stack

from .customers import AMY, link
from .test_meta_channels import customer_says, new_user, wait_for_replies

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, stack: Stack) -> Samples:
    answer = requests.get(f"{url}/metrics", headers=stack.bearer("METRICS_TOKEN"), timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over the samples that have these labels (whatever their other labels)."""
    wanted = set(labels.items())
    return sum(value for (found, pairs), value in samples.items() if found == name and wanted <= pairs)


def test_all_three_services_count_a_conversation(default_stack: Stack):
    stack = default_stack
    actions_url = f"http://127.0.0.1:{stack.ports.actions}"
    before = {
        "rasa": scrape(stack.rasa_url, stack),
        "actions": scrape(actions_url, stack),
        "desk": scrape(stack.desk_url, stack),
    }

    user = link(stack, "messenger", new_user(), AMY)  # the order is theirs: answered at once
    customer_says(stack, "messenger", user, text="hi where is my order #104523?")
    [reply] = wait_for_replies(stack, "messenger", user, 1)
    assert "104523" in reply["body"]["message"]["text"]
    assert requests.get(f"{stack.desk_url}/health", timeout=30).status_code == 200

    rasa, actions, desk = (scrape(url, stack) for url in (stack.rasa_url, actions_url, stack.desk_url))

    def grew(now: Samples, then: Samples, name: str, **labels: str) -> float:
        return total(now, name, **labels) - total(then, name, **labels)

    assert grew(rasa, before["rasa"], "loom_messages_in_total", platform="messenger", kind="text") >= 1
    assert (
        grew(rasa, before["rasa"], "loom_webhook_events_total", platform="messenger", type="CustomerMessage")
        >= 1
    )
    assert grew(rasa, before["rasa"], "loom_messages_out_total", platform="messenger", result="sent") >= 1
    assert grew(rasa, before["rasa"], "loom_platform_send_seconds_count", platform="messenger") >= 1
    assert grew(rasa, before["rasa"], "loom_processing_seconds_count", platform="messenger") >= 1
    assert ("loom_queue_jobs", frozenset({("platform", "messenger")})) in rasa
    assert grew(actions, before["actions"], "loom_action_runs_total", outcome="ok") >= 1
    assert grew(actions, before["actions"], "loom_action_seconds_count") >= 1
    requests_now = grew(desk, before["desk"], "loom_desk_http_requests_total", route="/health", status="200")
    assert requests_now >= 1
    assert ("loom_desk_tickets", frozenset({("status", "open")})) in desk
