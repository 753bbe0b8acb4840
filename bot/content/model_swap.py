"""A trained model into the running Rasa servers, one replica at a time, once it passed the NLU gate.

`swap(model, replicas, headers)`:

1. the file: a symlink (models/current.tar.gz) is resolved first, so the gate and every replica get
   the same bytes even if it is repointed meanwhile; a missing file, or one that is not a Rasa model
   archive with a `model_id`, is refused;
2. the gate (bot/content/model_gate.py, `make test-nlu`'s), unless `gate=False`;
3. each replica in turn: `PUT /model` with the file's path (bot/rasa_server/model_swap.py loads it
   beside the serving model and switches between two turns: no message waits for the load or is
   lost), then `GET /status` must report the new model_id and `POST /model/parse` must understand a
   message. A replica that already serves the model is left as it is. The first replica that fails
   stops the swap: it and the ones after it keep their model; the report says which runs which.

The path is sent as it is on this machine: the replicas must see the same file (the same host, or
the same volume at the same path). Rasa's HTTP API wants `Authorization: Bearer <JWT>` (`headers`:
a callable gives a fresh token for each call, bot.conversations.api_auth).
"""

from __future__ import annotations

import contextlib
import json
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content.model_gate import GateResult
from bot.content.model_gate import gate as run_gate

METADATA = "metadata.json"  # Rasa's model archive: rasa/engine/storage/local_model_storage.py
LOAD_TIMEOUT = 1800.0  # a load beside the serving model: 45 s here, nearly 4 min on 2 overloaded cores
CALL_TIMEOUT = 30.0
CHECK_TEXT = "hello"

Headers = Mapping[str, str] | Callable[[], Mapping[str, str]]


class SwapRefused(RuntimeError):
    """A step of the swap failed; the message says why."""


def model_id_of(path: Path) -> str:
    """The `model_id` in a Rasa model archive's metadata; SwapRefused when it is not one."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                if member.name.lstrip("./") == METADATA:
                    handle = archive.extractfile(member)
                    metadata = json.load(handle) if handle is not None else {}
                    break
            else:
                raise SwapRefused(f"{path} has no {METADATA}: not a Rasa model archive")
    except (OSError, tarfile.TarError, EOFError, ValueError) as err:
        raise SwapRefused(f"{path} cannot be read as a Rasa model archive: {err}") from err
    model_id = metadata.get("model_id") if isinstance(metadata, dict) else None
    if not isinstance(model_id, str) or not model_id:
        raise SwapRefused(f"{path}: its {METADATA} has no model_id")
    return model_id


@dataclass
class Replica:
    """Where one Rasa server stands after the swap."""

    url: str
    before: str | None = None  # model_id it served before (None: unknown, it did not answer)
    now: str | None = None  # model_id it serves now, as its /status says
    loaded: bool = False  # it serves the new model (loaded now, or already)
    seconds: float = 0.0  # of its load, status and parse check
    note: str = ""  # "already serving it", "not tried", or why it failed


@dataclass
class SwapReport:
    """What was loaded where, how long it took, and why it stopped if it did."""

    model: str
    model_id: str | None = None
    gate: GateResult | None = None
    replicas: list[Replica] = field(default_factory=list)
    refused: str = ""  # empty: every replica serves the model
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every replica serves the new model."""
        return not self.refused

    def lines(self) -> list[str]:
        """The report for people, one line per fact."""
        head = f"model {self.model} ({self.model_id or 'model_id unknown'})"
        lines = [f"{head}: {'loaded on every replica' if self.ok else 'REFUSED: ' + self.refused}"]
        if self.gate is not None:
            lines.append(f"  gate: {'passed' if self.gate.passed else 'failed'}, {self.gate.reason}")
        for replica in self.replicas:
            state = "new model" if replica.loaded else f"keeps {replica.now or 'an unknown model'}"
            took = f" in {replica.seconds:.1f} s" if replica.seconds else ""
            note = f" ({replica.note})" if replica.note else ""
            lines.append(f"  {replica.url}: {state}{took}{note}")
        lines.append(f"  took {self.seconds:.1f} s")
        return lines


def call(method: str, url: str, headers: Headers, body: Any = None, timeout: float = CALL_TIMEOUT) -> Any:
    """One call of Rasa's HTTP API; its JSON (None for no content). SwapRefused with Rasa's message."""
    given = headers() if callable(headers) else headers
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **given}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as err:
        text = err.read().decode(errors="replace")
        with contextlib.suppress(ValueError, AttributeError):  # Rasa's error JSON: its message
            text = json.loads(text).get("message") or text
        raise SwapRefused(f"{method} {url}: {err.code} {text}") from err
    except (urllib.error.URLError, OSError) as err:
        raise SwapRefused(f"{method} {url}: {getattr(err, 'reason', err)}") from err
    return json.loads(raw) if raw else None


def status_model_id(url: str, headers: Headers) -> str | None:
    """The model_id a replica's `GET /status` reports."""
    return (call("GET", f"{url}/status", headers) or {}).get("model_id")


def load_on(replica: Replica, path: Path, model_id: str, headers: Headers) -> None:
    """Load the model on one replica and check it serves it; SwapRefused on the first failure."""
    started = time.monotonic()
    replica.before = replica.now = status_model_id(replica.url, headers)
    if replica.before == model_id:
        replica.loaded, replica.note = True, "already serving it"
        return
    try:
        call("PUT", f"{replica.url}/model", headers, {"model_file": str(path)}, timeout=LOAD_TIMEOUT)
        replica.now = status_model_id(replica.url, headers)
        if replica.now != model_id:
            raise SwapRefused(f"{replica.url}/status reports model_id {replica.now} after the load")
        parsed = call("POST", f"{replica.url}/model/parse", headers, {"text": CHECK_TEXT}) or {}
        if not (parsed.get("intent") or {}).get("name"):
            raise SwapRefused(f"{replica.url} understood no intent in {CHECK_TEXT!r} with the new model")
        replica.loaded = True
    finally:
        replica.seconds = time.monotonic() - started


def swap(
    model: Path,
    replicas: Sequence[str],
    headers: Headers,
    gate: bool = True,
    gate_check: Callable[[Path], GateResult] = run_gate,
) -> SwapReport:
    """Gate `model`, then load it on each replica in turn, stopping at the first refusal (see the module)."""
    started = time.monotonic()
    report = SwapReport(str(model))
    try:
        path = model.resolve(strict=True)
        report.model = str(path)
        if not path.is_file():
            raise SwapRefused(f"{path} is not a file")
        report.model_id = model_id_of(path)
        if gate:
            report.gate = gate_check(path)
            if not report.gate.passed:
                raise SwapRefused(f"the NLU gate failed: {report.gate.reason}")
    except (OSError, RuntimeError) as err:  # FileNotFoundError, a symlink loop; SwapRefused
        report.refused = str(err) if isinstance(err, SwapRefused) else f"{model}: {err}"
        report.replicas = [untried(url, headers) for url in replicas]
        report.seconds = time.monotonic() - started
        return report
    for index, url in enumerate(replicas):
        replica = Replica(url.rstrip("/"))
        report.replicas.append(replica)
        try:
            load_on(replica, path, str(report.model_id), headers)
        except SwapRefused as err:
            replica.note = report.refused = str(err)
            with contextlib.suppress(SwapRefused):  # what it serves after the refusal, if it says
                replica.now = status_model_id(replica.url, headers)
            report.replicas += [untried(other, headers) for other in replicas[index + 1 :]]
            break
    report.seconds = time.monotonic() - started
    return report


def untried(url: str, headers: Headers) -> Replica:
    """A replica the swap stopped before: what it serves, if it says."""
    replica = Replica(url.rstrip("/"), note="not tried")
    try:
        replica.before = replica.now = status_model_id(replica.url, headers)
    except SwapRefused as err:
        replica.note = f"not tried; {err}"
    return replica
