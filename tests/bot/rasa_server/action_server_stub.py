"""A minimal action server for the Rasa-side tests: records what Rasa asks for, answers one slot and reply."""

from __future__ import annotations

from aiohttp import web
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

DOMAIN = Domain.from_dict({"slots": {"order_state": {"type": "any", "mappings": []}}})


def endpoint_at(port: int) -> EndpointConfig:
    return EndpointConfig(f"http://127.0.0.1:{port}/webhook")


async def run_action(endpoint: EndpointConfig) -> list:
    """`action_order_status` through Rasa's RemoteAction, on a new conversation: its events."""
    action = RemoteAction("action_order_status", endpoint)
    return await action.run(
        CollectingOutputChannel(),
        TemplatedNaturalLanguageGenerator({}),
        DialogueStateTracker("c1", []),
        DOMAIN,
    )


CALLS = web.AppKey("calls", list)
PEERS = web.AppKey("peers", list)  # the client's (host, port) of each call: one per TCP connection
BODIES = web.AppKey("bodies", list)  # each call's request body, as sent


async def start_action_server(port: int, failures: list[int] | None = None) -> web.AppRunner:
    """A minimal action server: one reply and a slot, after answering `failures` statuses first."""
    calls: list[str] = []
    peers: list[tuple[str, int]] = []
    bodies: list[bytes] = []
    failing = list(failures or [])

    async def webhook(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        body = await request.json()
        calls.append(body["next_action"])
        peers.append(request.transport.get_extra_info("peername"))
        if failing:
            return web.json_response({"error": "failing"}, status=failing.pop(0))
        return web.json_response(
            {
                "events": [{"event": "slot", "name": "order_state", "value": "shipped"}],
                "responses": [{"text": "Your order shipped."}],
            }
        )

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    app[CALLS] = calls
    app[PEERS] = peers
    app[BODIES] = bodies
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner
