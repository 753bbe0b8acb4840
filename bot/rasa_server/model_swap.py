"""`PUT /model` that loads the new model beside the serving one, off the event loop, then switches at once.

Rasa 3.6's own route (rasa/server.py `load_model` and `_load_agent`, rasa/core/agent.py `load_agent`):

- loads inside the request handler, on the event loop's thread (`Agent.load_model` is synchronous):
  unpacking the archive, building the graph, TensorFlow and spaCy take seconds, and all that time no
  webhook is acknowledged, no turn moves and no health check answers (bench/model_swap_stall.py);
- builds a new event broker, tracker store and lock store from endpoints.yml for the new agent, then
  gives the agent the old lock store but leaves the new one in its processor (reminders lock there),
  and never closes the new broker;
- keeps the old model serving when the file does not load, but answers 400 "Agent with name '...'
  could not be loaded" without the reason, which is only in the server's log.

Here, for a body `{"model_file": path}` (one with `model_server` or `remote_storage` still goes to
Rasa's route):

1. the new agent gets the serving agent's lock store (the same object, so one conversation's turns
   never overlap across the switch), event broker and action endpoint, and a tracker store of its
   own from endpoints.yml (the same database, so conversations keep their state; one per model
   because the SQL store keeps saved trackers built with its model's slots, bot/rasa_server/sql_events.py);
2. in a worker thread, the model is loaded and must understand a message and predict an action
   (which also builds TensorFlow's functions, a cost the first message would otherwise pay on the
   loop); meanwhile the loop serves with the old model (collector off: bot/rasa_server/gc_freeze.py);
3. `app.ctx.agent` is replaced in one assignment. Whatever starts a turn reads it then (Rasa's channel
   handler, our channels' `agent` property, the API routes), so new turns run on the new model, and a
   turn already started ends on the agent it took: the old one;
4. `RELEASE_AFTER` seconds later (longer than any turn) the old model is let go: its store's
   connections closed, the dialogue states carried forward (prior_states) forgotten, its objects
   collected (`gc_freeze.refreeze`: one full collection, the loop's one pause of a swap, 1.3-2.9 s
   measured on 2 busy cores). Per-model state elsewhere lives on the processor (the NLU
   micro-batcher, the TED plan, the graph's schemas) and goes with it.

A model that fails to load or to answer is refused with 400 and the reason; the serving model stays.
Loads run one at a time; the file the serving model came from (the same bytes) is not loaded again.
Auth is Rasa's (`requires_auth`: the API's JWT). `install()` is called by `python -m bot.rasa_server`
before Rasa builds its app; a plain `rasa run` keeps Rasa's route.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from bot.rasa_server import batch_parse, gc_freeze, prior_states

logger = logging.getLogger(__name__)

RELEASE_AFTER = 60.0  # seconds the old model stays for the turns that started on it
CHECK_TEXT = "hello"
CHECK_SENDER = "loom-model-check"


class ModelRefused(Exception):
    """The model was not loaded (the reason is the message); the serving model stays."""


def innermost(store: Any) -> Any:
    """The tracker store inside Rasa's wrappers (FailSafeTrackerStore, AwaitableTrackerStore)."""
    while hasattr(store, "_tracker_store"):
        store = store._tracker_store
    return store


def refusal(current: Any, endpoints: Any, model_file: str) -> str | None:
    """Why `model_file` cannot be loaded beside `current`, before trying; None when it may."""
    if current is None or current.tracker_store is None:
        return "the server has no agent yet (still starting)"
    if getattr(endpoints, "model", None) is not None:
        return "this server pulls its model from a model server (endpoints.yml `models`): publish it there"
    if getattr(endpoints, "tracker_store", None) is None:
        return "conversations are in this process's memory (no tracker_store in endpoints.yml)"
    if not os.path.isfile(model_file):
        return f"no such file on the server: {model_file}"
    return None


@dataclass(frozen=True)
class Shared:
    """What the new agent takes over from the serving one: nothing that holds the serving model.

    The load's worker thread gets this rather than the serving agent: a thread's frame can keep what
    it was handed after `del` (a snapshot of its `f_locals`, which something in the load takes), and
    it kept the old model alive that way.
    """

    lock_store: Any
    event_broker: Any
    action_endpoint: Any
    http_interpreter: Any
    serving_predicts: bool  # the serving model predicts actions (a model that cannot would stop the bot)

    @classmethod
    def of(cls, agent: Any) -> Shared:
        """The shared parts of `agent`."""
        processor = agent.processor
        return cls(
            agent.lock_store,
            innermost(agent.tracker_store).event_broker,
            agent.action_endpoint,
            agent.http_interpreter,
            processor is not None and processor.model_metadata.core_target is not None,
        )


def new_agent(shared: Shared, endpoints: Any) -> Any:
    """An agent without a model: the serving one's lock store and event broker, a tracker store of its own."""
    from rasa.core.agent import Agent
    from rasa.core.tracker_store import TrackerStore

    return Agent(
        generator=endpoints.nlg,
        tracker_store=TrackerStore.create(endpoints.tracker_store, event_broker=shared.event_broker),
        lock_store=shared.lock_store,
        action_endpoint=shared.action_endpoint,
        http_interpreter=shared.http_interpreter,
    )


def check(processor: Any, serving_predicts: bool) -> None:
    """The new model understands a message and predicts an action; ModelRefused if it cannot."""
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.constants import PLACEHOLDER_TRACKER
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    [parsed] = batch_parse.parse_with_graph(processor, [UserMessage(CHECK_TEXT, sender_id=CHECK_SENDER)])
    if not (parsed.get("intent") or {}).get("name"):
        raise ModelRefused(f"it understood no intent in {CHECK_TEXT!r}")
    target = processor.model_metadata.core_target
    if target is None:
        if serving_predicts:
            raise ModelRefused("it is an NLU-only model: the assistant would stop answering")
        return
    events = [ActionExecuted(ACTION_LISTEN_NAME), UserUttered(CHECK_TEXT, parsed["intent"], [], parsed)]
    tracker = DialogueStateTracker.from_events(CHECK_SENDER, events, slots=processor.domain.slots)
    processor.graph_runner.run(inputs={PLACEHOLDER_TRACKER: tracker}, targets=[target])


def load_beside(shared: Shared, endpoints: Any, model_file: str) -> Any:
    """In a worker thread: the new agent with `model_file` loaded and checked; ModelRefused says why not."""
    from rasa.core.agent import Agent

    rasa_load = getattr(Agent.load_model, "__wrapped__", Agent.load_model)  # not gc_freeze's: see there
    agent = new_agent(shared, endpoints)
    try:
        with gc_freeze.loading_beside():
            rasa_load(agent, model_file)
            check(agent.processor, shared.serving_predicts)
    except Exception as err:  # anything a model file can make Rasa raise is a reason to refuse it
        dispose(agent.tracker_store)
        if isinstance(err, ModelRefused):
            raise
        logger.info("model %s not loaded", model_file, exc_info=True)
        raise ModelRefused(f"{type(err).__name__}: {err}") from err
    return agent


def file_key(path: str) -> tuple[str, int, int, int]:
    """The file `path` names, as the same bytes: its real path, inode, size and modification time."""
    real = os.path.realpath(path)
    info = os.stat(real)
    return (real, info.st_ino, info.st_size, info.st_mtime_ns)


def dispose(store: Any) -> None:
    """Close the pooled connections of a tracker store no model uses any more."""
    engine = getattr(innermost(store), "engine", None)
    if engine is not None:
        engine.dispose()


def describe(agent: Any) -> str:
    """`file (model_id)` of an agent's model, or `no model`."""
    if agent is None or agent.processor is None:
        return "no model"
    return f"{agent.processor.model_filename} ({agent.model_id})"


class Swapper:
    """Loads models beside the serving one for one app, one at a time, and lets old ones go."""

    def __init__(self, app: Any, endpoints: Any, release_after: float = RELEASE_AFTER) -> None:
        self.app = app
        self.endpoints = endpoints
        self.release_after = release_after
        self._lock: asyncio.Lock | None = None  # made in the server's loop, at the first swap
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-load")
        self._releases: set[asyncio.Task[None]] = set()

    async def swap(self, model_file: str) -> Any:
        """Load `model_file` beside the serving model, then serve it; the old agent. ModelRefused: why not."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            current = self.app.ctx.agent
            reason = refusal(current, self.endpoints, model_file)
            if reason:
                raise ModelRefused(reason)
            key = file_key(model_file)
            if getattr(current, "loom_model_file", None) == key:  # e.g. the launcher and `bot model swap`
                logger.info("model %s is served already: not loaded again", describe(current))
                return current
            started = time.perf_counter()
            loop = asyncio.get_running_loop()
            shared = Shared.of(current)
            agent = await loop.run_in_executor(self._thread, load_beside, shared, self.endpoints, model_file)
            agent.loom_model_file = key
            self.app.ctx.agent = agent  # the switch: every turn that starts from now on uses the new model
            logger.info(
                "model %s loaded beside %s in %.1f s; serving it now",
                describe(agent),
                describe(current),
                time.perf_counter() - started,
            )
            release = loop.create_task(self._release(current))
            self._releases.add(release)
            release.add_done_callback(self._releases.discard)
            return current

    async def _release(self, old: Any) -> None:
        """After the grace period: close the old store's connections and collect the old model."""
        await asyncio.sleep(self.release_after)
        if innermost(old.tracker_store) is not innermost(self.app.ctx.agent.tracker_store):
            dispose(old.tracker_store)
        prior_states.clear()
        del old
        seconds = gc_freeze.refreeze()
        logger.info("previous model let go: collected in %.0f ms", seconds * 1000)

    async def released(self) -> None:
        """Wait until every old model waiting for its grace period is let go (tests)."""
        await asyncio.gather(*self._releases)


def replace_load_route(app: Any, auth_token: str | None, endpoints: Any) -> None:
    """Make `PUT /model` of Rasa's app load beside the serving model (the route, auth and answers stay)."""
    from rasa.server import ErrorResponse, requires_auth
    from sanic import response

    found = [r for r in app.router.routes if "PUT" in r.methods and r.name.endswith(".load_model")]
    if len(found) != 1:
        raise RuntimeError(f"Rasa's PUT /model route not found (found {len(found)}): did Rasa change?")
    route, swapper = found[0], Swapper(app, endpoints)
    rasa_handler = route.handler.__wrapped__  # inside Rasa's requires_auth
    app.ctx.loom_model_swapper = swapper

    async def load_model(request: Any) -> Any:
        body = request.json
        if not isinstance(body, dict) or body.get("model_server") or body.get("remote_storage"):
            return await rasa_handler(request)  # Rasa's answer to no body; its model server and storage
        model_file = body.get("model_file")
        if not isinstance(model_file, str) or not model_file:
            raise ErrorResponse(
                HTTPStatus.BAD_REQUEST,
                "BadRequest",
                "model_file must be the path of a model archive",
                {"parameter": "model_file", "in": "body"},
            )
        try:
            await swapper.swap(model_file)
        except ModelRefused as refused:
            raise ErrorResponse(
                HTTPStatus.BAD_REQUEST,
                "BadRequest",
                f"Model '{model_file}' was not loaded: {refused}. "
                f"Still serving {describe(request.app.ctx.agent)}.",
                {"parameter": "model_file", "in": "body"},
            ) from refused
        except Exception as err:  # not the model's fault (e.g. the tracker store's database): Rasa's 500
            logger.exception("loading model %s failed", model_file)
            raise ErrorResponse(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                "LoadingError",
                f"An unexpected error occurred. Error: {err}",
            ) from err
        return response.empty(status=HTTPStatus.NO_CONTENT)

    route.handler = requires_auth(app, auth_token)(load_model)


def install() -> None:
    """Have every Rasa app built from now on load models beside the serving one (idempotent)."""
    import rasa.server as server

    rasa_create_app = server.create_app
    if getattr(rasa_create_app, "swaps_models", False):
        return
    signature = inspect.signature(rasa_create_app)

    def create_app(*args: Any, **kwargs: Any) -> Any:
        app = rasa_create_app(*args, **kwargs)
        given = signature.bind(*args, **kwargs)
        given.apply_defaults()
        replace_load_route(app, given.arguments["auth_token"], given.arguments["endpoints"])
        return app

    create_app.swaps_models = True  # type: ignore[attr-defined]
    server.create_app = create_app
