"""deploy/nginx.conf (machines) and deploy/nginx/compose.conf.template (Compose), read as text.

nginx is not installed here, so the configuration is parsed into its blocks and checked for what the
deployment relies on: only the webhooks of the Rasa servers are public, bodies are limited, the desk's
agent-reply route is refused, an unacknowledged webhook is retried on another replica, and the
upstream lists every Rasa replica Compose runs. Both files must agree on all of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import DEPLOY, option, rasa_replicas

MACHINES = DEPLOY / "nginx.conf"
COMPOSE = DEPLOY / "nginx" / "compose.conf.template"
WEBHOOKS = "~ ^/webhooks/(messenger|instagram|twitter)/(webhook)?$"
AGENT_REPLY = "~ ^/webhooks/[^/]+/agent_reply$"


@dataclass
class Block:
    """An nginx block: its header (`server`, `location = /x`), its simple directives, its blocks."""

    header: str
    directives: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    def all(self, header: str) -> list[Block]:
        return [b for b in self.blocks if b.header == header or b.header.startswith(header + " ")]

    def one(self, header: str) -> Block:
        found = [b for b in self.blocks if b.header == header]
        assert len(found) == 1, f"{len(found)} blocks {header!r}"
        return found[0]

    def values(self, name: str) -> list[str]:
        return [d[len(name) + 1 :] for d in self.directives if d.startswith(name + " ")]

    def value(self, name: str) -> str:
        found = self.values(name)
        assert len(found) == 1, f"{name}: {found}"
        return found[0]


def parse(text: str) -> Block:
    """The configuration as nested blocks (comments dropped, directives whitespace-normalised)."""
    tokens = re.findall(r'"[^"]*"|[{};]|[^\s{};"]+', re.sub(r"#[^\n]*", "", text))
    root, stack, words = Block("main"), [], []
    stack.append(root)
    for token in tokens:
        if token == "{":
            block = Block(" ".join(words))
            stack[-1].blocks.append(block)
            stack.append(block)
            words = []
        elif token == ";":
            stack[-1].directives.append(" ".join(words))
            words = []
        elif token == "}":
            assert not words, words
            stack.pop()
        else:
            words.append(token)
    assert len(stack) == 1 and not words, "unbalanced braces"
    return root


def rendered(path: Path) -> str:
    """The file as nginx reads it; in the template each `${NAME}` becomes NAME (the image's envsubst)."""
    return re.sub(r"\$\{([A-Z][A-Z0-9_]*)\}", r"\1", path.read_text())


def listens_on(server: Block, port: str) -> bool:
    return any(listen.split()[0] in (port, f"[::]:{port}") for listen in server.values("listen"))


def server_named(config: Block, name_hint: str, port: str = "443") -> Block:
    """The `server` block on `port` whose only server_name contains `name_hint`."""
    found = [
        server
        for server in config.all("server")
        if listens_on(server, port)
        and len(names := server.value("server_name").split()) == 1
        and name_hint in names[0]
    ]
    assert len(found) == 1, f"{len(found)} servers for {name_hint}:{port}"
    return found[0]


CONFIGS = {
    "machines": (MACHINES, "bot.example.com", "desk.example.com"),
    "compose": (COMPOSE, "LOOM_BOT", "LOOM_DESK"),
}


@pytest.fixture(params=list(CONFIGS))
def config(request) -> tuple[Block, str, str]:
    path, bot, desk = CONFIGS[request.param]
    return parse(rendered(path)), bot, desk


def test_the_webhook_host_publishes_the_three_webhooks_and_nothing_else(config):
    parsed, bot, _ = config
    server = server_named(parsed, bot)
    locations = {b.header: b for b in server.all("location")}
    assert set(locations) == {f"location {WEBHOOKS}", f"location {AGENT_REPLY}", "location /"}
    assert locations[f"location {AGENT_REPLY}"].directives == ["return 404"]
    assert locations["location /"].directives == ["return 404"]
    webhooks = locations[f"location {WEBHOOKS}"]
    assert webhooks.value("proxy_pass") == "http://loom_rasa"
    assert webhooks.one("limit_except GET POST").directives == ["deny all"]
    assert server.value("client_max_body_size") == "1m"
    assert server.value("server_tokens") == "off"
    assert set(webhooks.values("proxy_set_header")) == {
        'Connection ""',
        "Host $host",
        "X-Forwarded-For $proxy_add_x_forwarded_for",
        "X-Forwarded-Proto $scheme",
    }


def test_a_webhook_without_an_acknowledgement_is_retried_on_another_replica(config):
    parsed, bot, _ = config
    webhooks = server_named(parsed, bot).one(f"location {WEBHOOKS}")
    retried = webhooks.value("proxy_next_upstream").split()
    assert {"error", "timeout", "http_502", "http_503", "non_idempotent"} <= set(retried)
    assert not {"http_500", "http_404", "http_403", "http_429"} & set(retried)  # answers, not failures
    assert int(webhooks.value("proxy_next_upstream_tries")) >= 2


def test_only_the_webhook_location_reaches_the_rasa_servers(config):
    parsed, _, _ = config
    for server in parsed.all("server"):
        for location in server.all("location"):
            if location.values("proxy_pass") == ["http://loom_rasa"]:
                assert location.header == f"location {WEBHOOKS}"
        assert "http://loom_rasa" not in server.values("proxy_pass")


def test_the_desk_has_its_own_host_with_unbuffered_live_updates_and_no_metrics(config):
    parsed, bot, desk = config
    server = server_named(parsed, desk)
    assert server is not server_named(parsed, bot)
    locations = {b.header: b for b in server.all("location")}
    assert locations["location = /metrics"].directives == ["return 404"]
    assert locations["location = /stream"].value("proxy_pass") == "http://loom_desk"
    assert locations["location = /stream"].value("proxy_buffering") == "off"
    assert locations["location /"].value("proxy_pass") == "http://loom_desk"
    for location in (locations["location = /stream"], locations["location /"]):
        assert "X-Forwarded-For $proxy_add_x_forwarded_for" in location.values("proxy_set_header")


def test_plain_http_only_redirects(config):
    parsed, bot, desk = config
    for server in parsed.all("server"):
        if listens_on(server, "80"):
            assert bot in server.value("server_name") and desk in server.value("server_name")
            redirects = [
                *server.values("return"),
                *(r for b in server.all("location /") for r in b.values("return")),
            ]
            assert any(r.startswith("301 https://$host$request_uri") for r in redirects)
            assert not server.values("proxy_pass")


def test_both_files_treat_webhooks_the_same_way():
    machines = server_named(parse(rendered(MACHINES)), "bot.example.com")
    compose = server_named(parse(rendered(COMPOSE)), "LOOM_BOT")
    for header in (f"location {WEBHOOKS}", f"location {AGENT_REPLY}", "location /"):
        assert machines.one(header) == compose.one(header), header
    tls = ("listen", "server_name", "ssl_certificate", "ssl_certificate_key", "http2")
    assert [d for d in machines.directives if not d.startswith(tls)] == [
        d for d in compose.directives if not d.startswith(tls)
    ]


def rasa_servers(config: Block) -> list[str]:
    return [s.split()[0] for s in config.one("upstream loom_rasa").values("server")]


def test_the_compose_upstream_lists_every_rasa_replica_compose_runs(compose):
    parsed = parse(rendered(COMPOSE))
    upstream = parsed.one("upstream loom_rasa")
    replicas = rasa_replicas(compose)
    expected = {f"{name}:{option(service['command'], '--port')}" for name, service in replicas.items()}
    assert set(rasa_servers(parsed)) == expected
    assert all(s.split()[1:] == ["resolve"] for s in upstream.values("server"))  # new addresses found
    assert upstream.values("zone") and parsed.value("resolver").startswith("127.0.0.11 ")  # Docker's DNS
    assert parse(rendered(COMPOSE)).one("upstream loom_desk").values("server") == ["desk:5090 resolve"]


def test_the_machines_upstream_lists_several_replicas():
    servers = rasa_servers(parse(rendered(MACHINES)))
    assert len(servers) >= 2 and len(set(servers)) == len(servers)


def test_compose_mounts_the_template_where_the_nginx_image_renders_it(compose):
    nginx = compose["services"]["nginx"]
    assert "./nginx/compose.conf.template:/etc/nginx/templates/default.conf.template:ro" in nginx["volumes"]
    names = set(re.findall(r"\$\{([A-Z_]+)\}", COMPOSE.read_text()))
    assert names == {"LOOM_BOT_HOSTNAME", "LOOM_DESK_HOSTNAME"} and names <= set(nginx["environment"])
    health = parse(rendered(COMPOSE))
    plain = [s for s in health.all("server") if "80 default_server" in s.values("listen")]
    assert plain and plain[0].one("location = /nginx-health")
    assert "http://127.0.0.1/nginx-health" in nginx["healthcheck"]["test"][-1]
