"""The desk's Review pages, for content editors (and supervisors): unsure messages into training data.

`/review`: the queue, grouped by meaning; an editor confirms or corrects the intent and the example
(Rasa's `[value](entity)` markup, customer data masked unless kept), or dismisses. `/review/changes`:
what the accepted messages would change in `data/nlu/*.yml` and the held-out set, as a diff, before
anything is written; then save, download the patch, or commit it to a new git branch.
`/review/model`: the regression report of the data as it is now (`bot nlu check`) and training and
loading the new model into the running assistant (`bot model swap`), as background jobs.
Everything a customer wrote is masked before it is rendered, and autoescaped by the templates.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.content import nlu_data
from bot.content.jobs import JobError, Jobs
from bot.content.markup import MarkupError
from bot.content.masking import shown
from bot.content.queue import Encoder, ReviewError, ReviewQueue
from bot.desk.web import AGENT, CONFIG, DESK, redirect, render
from bot.storage.models import Agent

logger = logging.getLogger(__name__)
QUEUE_KEY = web.AppKey("review_queue", ReviewQueue)
JOBS_KEY = web.AppKey("content_jobs", Jobs)
EDITORS = ("editor", "supervisor")
MAX_IDS = 300
REPORT = Path("results") / "nlu_check" / "report.json"
CURRENT_MODEL = Path("models") / "current.tar.gz"


def _editor(request: web.Request) -> Agent:
    agent = request[AGENT]
    if agent.role not in EDITORS:
        raise web.HTTPForbidden(text="the review queue is for content editors and supervisors")
    return agent


def _root(request: web.Request) -> Path:
    return request.app[CONFIG].content_root


def _ids(form: Any) -> list[int]:
    ids = [int(v) for v in form.getall("item", []) if str(v).isdigit()][:MAX_IDS]
    if not ids:
        raise web.HTTPBadRequest(text="choose at least one message")
    return ids


def intent_choices(root: Path) -> list[str]:
    """The intents with training examples in data/nlu, but those nobody types (the desk's EXTERNAL_)."""
    names = nlu_data.topic_files(root)
    return sorted(name for name in names if not name.startswith(nlu_data.EXTERNAL_PREFIX))


async def page(request: web.Request) -> web.Response:
    """The open messages, grouped, most frequent first."""
    _editor(request)
    queue = request.app[QUEUE_KEY]
    return render(
        request,
        "review.html",
        groups=await queue.open_groups(),
        counts=await queue.counts(),
        intents=intent_choices(_root(request)),
        recent=[(row, shown(row.example or row.text)) for row in await queue.recent(20)],
    )


async def accept(request: web.Request) -> web.StreamResponse:
    """Accept one message (with its edited example) or a whole group (each with its own suggestion)."""
    editor = _editor(request)
    form = await request.post()
    ids = _ids(form)
    intent = str(form.get("intent", ""))
    if intent not in intent_choices(_root(request)):
        raise redirect(request, "/review", f"{intent or 'no intent'}: choose one of the listed intents")
    example = str(form.get("example", "")).strip() or None
    keep = form.get("keep_original") == "1"
    queue = request.app[QUEUE_KEY]
    if example is not None and len(ids) == 1:
        offered = await queue.suggestions(ids)
        if offered and example == offered[0].example:
            example = None  # unedited: the kept or masked suggestion
    try:
        done = await queue.accept(editor, ids, intent, example, keep)
    except (ReviewError, MarkupError) as err:
        raise redirect(request, "/review", str(err)) from None
    logger.info("review: %s accepted %s message(s) as %s", editor.username, done, intent)
    raise redirect(request, "/review", f"{done} message{'s' if done != 1 else ''} accepted as {intent}.")


async def dismiss(request: web.Request) -> web.StreamResponse:
    """Not useful: out of the queue."""
    editor = _editor(request)
    done = await request.app[QUEUE_KEY].dismiss(editor, _ids(await request.post()))
    raise redirect(request, "/review", f"{done} message{'s' if done != 1 else ''} dismissed.")


async def reopen(request: web.Request) -> web.StreamResponse:
    """Back to the queue (an acceptance or dismissal not written yet)."""
    editor = _editor(request)
    item_id = int(request.match_info["item_id"])
    done = await request.app[QUEUE_KEY].reopen(editor, item_id)
    said = "Back in the queue." if done else "Already written: edit the YAML instead."
    raise redirect(request, "/review", said)


async def _planned(request: web.Request) -> tuple[dict[int, int], nlu_data.ChangeSet]:
    """The change the accepted messages make, and which review item each planned example is."""
    accepted = await request.app[QUEUE_KEY].accepted()
    change = nlu_data.plan(_root(request), [example for _, example in accepted])
    return {id(example): item_id for item_id, example in accepted}, change


async def changes(request: web.Request) -> web.Response:
    """The diff the accepted messages would make, before anything is written."""
    _editor(request)
    items, change = await _planned(request)
    root = _root(request)
    return render(
        request,
        "review_changes.html",
        diff=nlu_data.diff(change, root) if change.files else "",
        placed=[(p, p.file.relative_to(root)) for p in change.placed],
        skipped=change.skipped,
        accepted=len(items),
    )


async def patch(request: web.Request) -> web.Response:
    """The same diff as a file for `git apply` (teams that review data changes in git)."""
    _editor(request)
    _, change = await _planned(request)
    if not change.files:
        raise web.HTTPNotFound(text="no accepted messages to write")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M")
    return web.Response(
        text=nlu_data.diff(change, _root(request)),
        content_type="text/x-diff",
        headers={"Content-Disposition": f'attachment; filename="nlu-review-{stamp}.patch"'},
    )


async def save(request: web.Request) -> web.StreamResponse:
    """Write the planned change into the YAML files, and mark what went where."""
    editor = _editor(request)
    items, change = await _planned(request)
    if not change.files:
        raise redirect(request, "/review/changes", "Nothing to write: accept some messages first.")
    root = _root(request)
    try:
        nlu_data.write(change)
    except nlu_data.ChangedMeanwhile as err:
        raise redirect(request, "/review/changes", str(err)) from None
    where = [(items[id(p.example)], str(p.file.relative_to(root)), p.heldout) for p in change.placed]
    # An accepted message that was not written (already in the data, say) leaves the list with its reason.
    where += [(items[id(example)], f"not written: {why}", False) for example, why in change.skipped]
    await request.app[QUEUE_KEY].mark_written(editor, where)
    heldout = sum(1 for p in change.placed if p.heldout)
    logger.info("review: %s wrote %s example(s) (%s held out)", editor.username, len(change.placed), heldout)
    raise redirect(
        request,
        "/review/model",
        f"{len(change.placed)} example(s) written ({heldout} into the held-out set). "
        "Run the regression report before loading a new model.",
    )


async def branch(request: web.Request) -> web.StreamResponse:
    """Commit the planned change onto a new git branch, leaving the files on disk as they are."""
    editor = _editor(request)
    _, change = await _planned(request)
    if not change.files:
        raise redirect(request, "/review/changes", "Nothing to commit: accept some messages first.")
    name = "nlu-review/" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    message = f"NLU: {len(change.placed)} example(s) from reviewed conversations ({editor.display_name})"
    try:
        commit = nlu_data.export_branch(_root(request), change, name, message)
    except nlu_data.ExportError as err:
        raise redirect(request, "/review/changes", str(err)) from None
    logger.info("review: %s committed branch %s (%s)", editor.username, name, commit[:10])
    raise redirect(request, "/review/changes", f"Branch {name} created (commit {commit[:10]}).")


def read_report(root: Path) -> dict[str, Any] | None:
    """The last regression report (`bot nlu check` writes it), if any; intents that moved most first."""
    try:
        report = json.loads((root / REPORT).read_text())
        report["intents"].sort(key=lambda row: (-abs(row["delta_f1"]), row["delta_f1"], row["intent"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return report


def report_is_current(root: Path) -> bool:
    """Whether the report was made after the last change to the training data, config or held-out set."""
    try:
        made = (root / REPORT).stat().st_mtime
    except OSError:
        return False
    inputs = [root / "config.yml", root / "domain.yml"]
    for folder in (root / "data", root / "tests" / "nlu"):
        inputs += [p for p in folder.rglob("*") if p.is_file()]
    return all(path.stat().st_mtime <= made for path in inputs if path.exists())


async def model_page(request: web.Request) -> web.Response:
    """The regression report and the model jobs."""
    _editor(request)
    jobs = request.app[JOBS_KEY]
    job = jobs.current()
    return render(
        request,
        "review_model.html",
        report=read_report(_root(request)),
        current=report_is_current(_root(request)),
        job=job,
        output=jobs.output() if job else "",
        refresh=bool(job and job.running),
    )


def _project_env(request: web.Request) -> dict[str, str]:
    env = dict(os.environ)
    config = request.app[CONFIG]
    env.setdefault("RASA_URL", config.rasa_url)
    if config.rasa_token:
        env["RASA_JWT_SECRET"] = config.rasa_token
    env.update(PYTHONUNBUFFERED="1")  # the job's log shows progress as it comes
    return env


def _commands(root: Path) -> dict[str, tuple[str, list[list[str]]]]:
    bot = [sys.executable, "-m", "bot.cli"]
    rasa = str(root / ".venv-rasa" / "bin" / "rasa")
    train = [sys.executable, str(root / "scripts" / "train_model.py"), "--rasa", rasa]
    return {
        "check": ("The regression report", [[*bot, "nlu", "check"]]),
        "swap": ("Training and loading the new model", [train, [*bot, "model", "swap", str(CURRENT_MODEL)]]),
    }


async def start_job(request: web.Request) -> web.StreamResponse:
    """Start the regression report or the training and swap."""
    editor = _editor(request)
    kind = request.match_info["kind"]
    root = _root(request)
    if kind == "swap" and not (report_is_current(root) and (read_report(root) or {}).get("safe")):
        raise redirect(request, "/review/model", "Run the regression report first: it must say safe to ship.")
    title, steps = _commands(root)[kind]
    try:
        request.app[JOBS_KEY].start(kind, title, steps, _project_env(request))
    except JobError as err:
        raise redirect(request, "/review/model", str(err)) from None
    logger.info("review: %s started %s", editor.username, kind)
    raise redirect(request, "/review/model", f"{title} started.")


def register(app: web.Application) -> None:
    """Routes and state of the review pages."""
    config = app[CONFIG]
    encoder = Encoder(config.content_root / "models" / "encoder")
    app[QUEUE_KEY] = ReviewQueue(app[DESK].db, encoder)
    app[JOBS_KEY] = Jobs(config.content_root)
    app.router.add_get("/review", page)
    app.router.add_post("/review/accept", accept)
    app.router.add_post("/review/dismiss", dismiss)
    app.router.add_post(r"/review/{item_id:\d+}/reopen", reopen)
    app.router.add_get("/review/changes", changes)
    app.router.add_get("/review/changes.patch", patch)
    app.router.add_post("/review/changes/save", save)
    app.router.add_post("/review/changes/branch", branch)
    app.router.add_get("/review/model", model_page)
    app.router.add_post("/review/model/{kind:check|swap}", start_job)
