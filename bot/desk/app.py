"""The desk's web app (aiohttp): sign-in, queue, conversation view, live updates, audit trail.

Pages are rendered on the server with Jinja2 autoescaping, so customer text is escaped in one place;
the browser script only swaps in fragments the server rendered and counts timers down. Every POST
carries the session's CSRF token; cookies are HttpOnly and SameSite=Strict, and `Secure` (with HSTS)
when the desk's public URL is https. Pages that show customer data are `Cache-Control: no-store`.
Customer media reach the browser only through `/media/...` (bot/desk/media.py): the CSP allows
images from the desk itself and nowhere else.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.catalog.fetch import ImageFetchError, media_policy
from bot.catalog.lookup_log import logos_by_photo
from bot.conversations.rasa_api import DeliveryError
from bot.desk import (
    analytics_pages,
    assignment_pages,
    assist_pages,
    canned,
    engagement_pages,
    monitoring_pages,
    review_pages,
)
from bot.desk import metrics as desk_metrics
from bot.desk.accounts import EDITOR, SignInError
from bot.desk.assigner import Assigner
from bot.desk.config import DeskConfig, Network
from bot.desk.health import register as add_readiness
from bot.desk.live import TrackerWatcher
from bot.desk.media import MediaProxy, media_urls
from bot.desk.ownership import SUPERVISOR, NotFound, OwnershipError
from bot.desk.service import Desk
from bot.desk.web import (
    AGENT,
    CONFIG,
    CSRF,
    DESK,
    HERE,
    LOGIN_CSRF_COOKIE,
    MEDIA,
    SESSION_COOKIE,
    STOPPING,
    TEMPLATES,
    X_SIGNER,
    Handler,
    del_cookie,
    redirect,
    render,
    set_cookie,
    templates,
)
from bot.live_bus import Bus
from bot.metrics import metrics_token_from_env
from bot.storage.db import Database
from bot.storage.models import Agent, AuditEntry
from bot.x_oauth import x_credentials, x_signer

logger = logging.getLogger(__name__)
HEARTBEAT = 15.0
PUBLIC = ("/login", "/health", "/readyz", "/static/", "/favicon.ico", "/metrics")  # /metrics: METRICS_TOKEN
CSP = (  # images only from the desk: customer media come through /media/, never from their own URLs
    "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
# What a content editor may open: the review pages, and signing out. No conversations, no customers.
EDITOR_PATHS = ("/review", "/logout")


def client_address(request: web.Request, trusted: tuple[Network, ...]) -> str:
    """The client's address: the peer's, or from X-Forwarded-For when the peer is a trusted proxy."""

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    remote = request.remote or ""
    if not trusted or not is_trusted(remote):
        return remote
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    hops = [h for h in hops if h]
    for hop in reversed(hops):  # the first address a trusted proxy did not add is the client's
        if not is_trusted(hop):
            return hop[:64]
    return hops[0][:64] if hops else remote


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CSP and friends on every answer."""
    try:
        response = await handler(request)
    except web.HTTPException as err:
        response = err
        if err.status >= 400 and err.status != 404:
            logger.warning("desk %s %s -> %s", request.method, request.path, err.status)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/static/"):  # everything else may show customer data or a session
        response.headers.setdefault("Cache-Control", "no-store")
    if request.app[CONFIG].https:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if isinstance(response, web.HTTPException):
        raise response
    return response


@web.middleware
async def authentication(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Signed-in agents only (except the sign-in page); CSRF token on every POST."""
    if request.path.startswith(PUBLIC):
        return await handler(request)
    found = await request.app[DESK].accounts.session(request.cookies.get(SESSION_COOKIE))
    if found is None:
        if request.method == "GET" and not request.path.startswith(("/stream", "/fragments")):
            raise web.HTTPSeeOther("/login")
        raise web.HTTPUnauthorized(text="sign in first")
    request[AGENT], request[CSRF] = found
    if found[0].role == EDITOR and not request.path.startswith(EDITOR_PATHS):
        if request.method == "GET" and request.path in ("/", "/queue"):
            raise web.HTTPSeeOther("/review")  # an editor's home
        logger.info("desk: editor %s refused %s %s", found[0].username, request.method, request.path)
        raise web.HTTPForbidden(text="content editors work in the review queue only")
    if request.method == "POST":
        form = await request.post()
        sent = request.headers.get("X-CSRF-Token") or str(form.get("csrf", ""))
        if not hmac.compare_digest(sent.encode(), request[CSRF].encode()):
            logger.warning("desk CSRF check failed for %s on %s", found[0].username, request.path)
            raise web.HTTPForbidden(text="this form has expired: reload the page and try again")
    return await handler(request)


async def health(_: web.Request) -> web.Response:
    """Liveness: the process answers (readiness, with the database and Redis: `GET /readyz`)."""
    return web.Response(text="ok")


async def favicon(_: web.Request) -> web.Response:
    """No icon (and no redirect to sign-in for the browser's automatic request)."""
    return web.Response(status=204)


async def login_page(request: web.Request) -> web.Response:
    """The sign-in form, with a CSRF token bound to a cookie (there is no session yet)."""
    # Reuse the browser's token: a second load of this page (another tab, a favicon request sent to
    # sign-in) must not invalidate the form already on screen.
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", login_csrf=token, error=None, username="")
    set_cookie(response, request.app[CONFIG], LOGIN_CSRF_COOKIE, token, 3600)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    """Check the password (throttled per name and per address) and open a session."""
    form = await request.post()
    cookie, sent = request.cookies.get(LOGIN_CSRF_COOKIE, ""), str(form.get("login_csrf", ""))
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
        logger.warning("desk sign-in without a valid form token from %s", request.remote)
        raise web.HTTPForbidden(text="this form has expired: reload the sign-in page")
    username, password = str(form.get("username", ""))[:80], str(form.get("password", ""))[:200]
    address = client_address(request, request.app[CONFIG].trusted_proxies)
    try:
        signed_in = await request.app[DESK].accounts.sign_in(username, password, address)
    except SignInError as err:
        logger.warning("desk sign-in refused for %r from %s", username, address)
        token = secrets.token_urlsafe(24)
        response = render(
            request, "login.html", status=401, login_csrf=token, error=str(err), username=username
        )
        set_cookie(response, request.app[CONFIG], LOGIN_CSRF_COOKIE, token, 3600)
        return response
    response = web.HTTPSeeOther("/queue")
    config = request.app[CONFIG]
    set_cookie(response, config, SESSION_COOKIE, signed_in.token, config.session_hours * 3600)
    del_cookie(response, config, LOGIN_CSRF_COOKIE)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session."""
    await request.app[DESK].presence.leave(request[AGENT].id)  # offline now: nothing more is assigned
    await request.app[DESK].accounts.sign_out(request.cookies.get(SESSION_COOKIE, ""))
    response = web.HTTPSeeOther("/login")
    del_cookie(response, request.app[CONFIG], SESSION_COOKIE)
    raise response


async def index(_: web.Request) -> web.StreamResponse:
    """The queue is home."""
    raise web.HTTPSeeOther("/queue")


async def queue_page(request: web.Request) -> web.Response:
    """Waiting conversations by urgency, and work in progress."""
    waiting, working = await request.app[DESK].queue(request[AGENT])
    return render(
        request, "queue.html", waiting=waiting, working=working, **await assignment_pages.routing(request)
    )


async def queue_fragment(request: web.Request) -> web.Response:
    """The queue tables alone, for live refresh."""
    waiting, working = await request.app[DESK].queue(request[AGENT])
    return render(
        request, "_queue.html", waiting=waiting, working=working, **await assignment_pages.routing(request)
    )


def _ticket_id(request: web.Request) -> int:
    return int(request.match_info["ticket_id"])


async def _view(request: web.Request) -> dict[str, Any]:
    desk, agent = request.app[DESK], request[AGENT]
    try:
        view = await desk.conversation(agent, _ticket_id(request))
    except NotFound as err:
        raise web.HTTPNotFound(text=str(err)) from None
    customer = view.item.customer.name or "there"
    responses = [(c, c.filled(customer, agent.display_name)) for c in canned.load()]
    agents = [a for a in await desk.accounts.active_agents() if a.id != view.ticket.assignee_id]
    media = {url: n for n, url in enumerate(media_urls(view.lines))}  # templates show /media/<ticket>/<n>
    return {
        "view": view,
        "assist": await assist_pages.panel(request, view, responses),
        "canned": responses,
        "agents": agents,
        "client_id": uuid.uuid4().hex,
        "media": media,
        "logos": await logos_by_photo(desk.db, view.ticket.conversation_id),
    }


async def media_file(request: web.Request) -> web.Response:
    """The n-th image of a conversation the agent may see, fetched and re-encoded by the desk."""
    desk, agent = request.app[DESK], request[AGENT]
    try:
        ticket = await desk.ownership.ticket(_ticket_id(request), agent)
    except NotFound as err:
        raise web.HTTPNotFound(text=str(err)) from None
    urls = media_urls(await desk.transcripts.lines(ticket.conversation_id))
    n = int(request.match_info["n"])
    if n >= len(urls):
        raise web.HTTPNotFound(text="no such image in this conversation")
    try:
        sign = request.app[X_SIGNER] if ticket.channel == "twitter" else None  # X's DM photos need it
        body = await request.app[MEDIA].get(urls[n], sign)
    except ImageFetchError as err:
        logger.info("desk media %s/%s not shown: %s", ticket.id, n, err)
        raise web.HTTPNotFound(text="this image cannot be shown") from None
    return web.Response(
        body=body,
        content_type="image/jpeg",
        headers={"Cache-Control": "private, no-store", "Content-Disposition": "inline"},
    )


async def customer_avatar(request: web.Request) -> web.Response:
    """The ticket's customer's profile picture, fetched and re-encoded by the desk like any media.

    Meta's picture URLs expire (in days): when one no longer answers, the profile is asked again for
    a fresh URL, once. A customer without a picture, or one that cannot be fetched, is a 404.
    """
    desk, agent = request.app[DESK], request[AGENT]
    try:
        ticket = await desk.ownership.ticket(_ticket_id(request), agent)
    except NotFound as err:
        raise web.HTTPNotFound(text=str(err)) from None
    profile = await desk.profiles.get(ticket.channel, ticket.conversation_id)
    try:
        body = await _picture(request.app[MEDIA], profile.picture_url)
    except ImageFetchError as err:
        logger.info("avatar of ticket %s not shown: %s", ticket.id, err)
        renewed = await desk.profiles.renew(ticket.channel, ticket.conversation_id)
        if renewed is None or renewed.picture_url in (None, profile.picture_url):
            raise web.HTTPNotFound(text="this customer's picture cannot be shown") from None
        try:
            body = await _picture(request.app[MEDIA], renewed.picture_url)
        except ImageFetchError as again:
            logger.info("renewed avatar of ticket %s not shown either: %s", ticket.id, again)
            raise web.HTTPNotFound(text="this customer's picture cannot be shown") from None
    return web.Response(
        body=body,
        content_type="image/jpeg",
        headers={"Cache-Control": "private, no-store", "Content-Disposition": "inline"},
    )


async def _picture(proxy: MediaProxy, url: str | None) -> bytes:
    if not url:
        raise ImageFetchError("no picture")
    return await proxy.get(url)


async def conversation_page(request: web.Request) -> web.Response:
    """Transcript, ticket details and the agent's tools."""
    return render(request, "conversation.html", **await _view(request))


async def conversation_fragment(request: web.Request) -> web.Response:
    """The parts of the conversation page that change live."""
    return render(request, "_conversation.html", **await _view(request))


def _action(work: Callable[[Desk, Agent, int, Any], Awaitable[Any]], done: str) -> Handler:
    """A POST that changes a ticket, then back to a page with the outcome."""

    async def handler(request: web.Request) -> web.StreamResponse:
        ticket_id = _ticket_id(request)
        form = await request.post()
        try:
            await work(request.app[DESK], request[AGENT], ticket_id, form)
        except NotFound as err:
            raise web.HTTPNotFound(text=str(err)) from None
        except (OwnershipError, DeliveryError) as err:
            logger.info("desk: %s on ticket #%s refused: %s", request[AGENT].username, ticket_id, err)
            back = "/queue" if done == "claimed" else f"/tickets/{ticket_id}"  # the loser of a claim race
            raise redirect(request, back, str(err)) from None
        back_to_queue = ("released", "transferred", "resolved", "routed")
        target = "/queue" if done in back_to_queue else f"/tickets/{ticket_id}"
        raise redirect(request, target, done_message(done, ticket_id))

    return handler


def done_message(done: str, ticket_id: int) -> str | None:
    """What the next page says after an action."""
    return {
        "released": f"Ticket #{ticket_id} is back in the queue.",
        "transferred": f"Ticket #{ticket_id} transferred.",
        "resolved": f"Ticket #{ticket_id} resolved: the assistant has the conversation again.",
        "routed": f"Ticket #{ticket_id}: who it goes to is set.",
    }.get(done)


def _int_field(form: Any, name: str) -> int:
    try:
        return int(str(form.get(name, "")))
    except ValueError:
        raise OwnershipError(f"choose a {name.replace('_', ' ')}") from None


ACTIONS: dict[str, Handler] = {
    "claim": _action(lambda d, a, t, f: d.claim(a, t), "claimed"),
    "release": _action(lambda d, a, t, f: d.release(a, t), "released"),
    "transfer": _action(lambda d, a, t, f: d.transfer(a, t, _int_field(f, "to_agent")), "transferred"),
    "resolve": _action(lambda d, a, t, f: d.resolve(a, t), "resolved"),
    "reply": _action(
        lambda d, a, t, f: desk_metrics.counted_reply(
            d.reply(a, t, str(f.get("text", "")), str(f.get("client_id", "")))
        ),
        "replied",
    ),
    "note": _action(lambda d, a, t, f: d.note(a, t, str(f.get("body", ""))), "noted"),
    "route": _action(lambda d, a, t, f: d.route(a, t, str(f.get("route", ""))), "routed"),
}


async def stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the queue changed, the page's own ticket has news, or this agent was given one.

    `queue`, `conversation` (for `?ticket=`), and `assigned` when the assigner gave this agent a
    conversation: every page of theirs says so, whatever it shows.
    """
    desk, agent = request.app[DESK], request[AGENT]
    watched: str | None = None
    if request.query.get("ticket", "").isdigit():
        try:
            watched = (await desk.ownership.ticket(int(request.query["ticket"]), agent)).conversation_id
        except NotFound as err:
            raise web.HTTPNotFound(text=str(err)) from None
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    stopping, loop = request.app[STOPPING], asyncio.get_running_loop()
    # An open page is its agent's presence: the stream beats for it (bot/desk/presence.py).
    beat_every = min(HEARTBEAT, desk.presence.beat_every)
    next_beat = 0.0
    async with desk.bus.subscribe() as nudges:
        while not stopping.is_set():  # SIGTERM: end the stream; the page reconnects to a live replica
            if loop.time() >= next_beat:
                await assignment_pages.beat(desk, agent)
                next_beat = loop.time() + beat_every
            try:
                nudge = await asyncio.wait_for(nudges.get(), max(0.05, next_beat - loop.time()))
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            except (ConnectionResetError, asyncio.CancelledError):
                break
            kind, data = nudge.get("kind"), {"kind": nudge.get("kind")}
            if kind == "assigned":  # only to the agent given it, with nothing but the ticket's number
                if nudge.get("agent_id") != agent.id:
                    continue
                data["ticket"] = int(nudge.get("ticket_id") or 0)
            elif kind != "queue" and not (kind == "conversation" and nudge.get("conversation_id") == watched):
                continue
            try:
                await response.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
            except ConnectionResetError:
                break
    return response


async def audit_page(request: web.Request) -> web.Response:
    """Who did what: supervisors only."""
    if request[AGENT].role != SUPERVISOR:
        raise web.HTTPForbidden(text="the audit trail is for supervisors")
    from sqlalchemy import select

    ticket = request.query.get("ticket", "")
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(300)
    if ticket.isdigit():
        query = query.where(AuditEntry.ticket_id == int(ticket))
    async with request.app[DESK].db.sessions() as session:
        entries = list(await session.scalars(query))
    return render(request, "audit.html", entries=entries, ticket=ticket)


def create_app(
    config: DeskConfig, database: Database | None = None, trackers: Database | None = None
) -> web.Application:
    """The desk application; databases are opened here unless given (tests share theirs)."""
    app = web.Application(
        middlewares=[desk_metrics.measure, security_headers, authentication], client_max_size=64 * 1024
    )
    own_databases = database is None
    database = database or Database(config.settings.database_url)
    if trackers is None:
        same = config.tracker_database_url == config.settings.database_url
        trackers = database if same else Database(config.tracker_database_url)
    bus = Bus(config.settings.redis_url)
    desk = Desk(config, database, trackers, bus)
    app[DESK], app[CONFIG], app[TEMPLATES] = desk, config, templates()
    app[MEDIA] = MediaProxy(media_policy())  # the photo lookup's policy: bot/catalog/fetch.py
    app[X_SIGNER] = x_signer(x_credentials())  # the X channel's variables, read once
    watcher = TrackerWatcher(desk.transcripts, bus, config.poll_seconds, desk.on_tracker_event)
    assigner = None
    if config.assignment.enabled:
        assigner = Assigner(
            database,
            desk.transcripts,
            desk.presence,
            bus,
            config.assignment,
            config.sla,
            redis_url=config.settings.redis_url,
        )

    async def lifecycle(_: web.Application) -> Any:
        await bus.start()
        await watcher.start()
        await desk.accounts.start()
        if assigner is not None:
            await assigner.start()
        yield
        if assigner is not None:
            await assigner.stop()
        await watcher.stop()
        await bus.stop()
        await desk.rasa.close()
        await desk.accounts.close()
        await app[MEDIA].close()
        await desk.profiles.close()
        if own_databases:
            await database.close()
            if trackers is not database:
                await trackers.close()

    app.cleanup_ctx.append(lifecycle)
    app[STOPPING] = asyncio.Event()

    async def end_streams(_: web.Application) -> None:
        """SIGTERM: open event streams end now instead of holding the shutdown for its whole timeout."""
        app[STOPPING].set()
        bus.local({"kind": "stopping"})  # wakes every stream waiting for a nudge (no page acts on it)

    app.on_shutdown.append(end_streams)
    add_readiness(app, database, trackers, config.settings.redis_url)
    monitoring_pages.register(app)  # after `lifecycle`: the open-alert count is kept while the bus runs
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", desk_metrics.metrics_handler(database, metrics_token_from_env()))
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", index)
    app.router.add_get("/queue", queue_page)
    app.router.add_get("/fragments/queue", queue_fragment)
    app.router.add_get(r"/tickets/{ticket_id:\d+}", conversation_page)
    app.router.add_get(r"/fragments/tickets/{ticket_id:\d+}", conversation_fragment)
    app.router.add_get(r"/media/{ticket_id:\d+}/{n:\d{1,4}}", media_file)
    app.router.add_get(r"/customers/{ticket_id:\d+}/avatar", customer_avatar)
    for name, handler in ACTIONS.items():
        app.router.add_post(rf"/tickets/{{ticket_id:\d+}}/{name}", handler)
    app.router.add_get("/stream", stream)
    assignment_pages.register(app)
    app.router.add_get("/audit", audit_page)
    assist_pages.register(app)
    analytics_pages.register(app)
    engagement_pages.register(app)
    review_pages.register(app)
    app.router.add_static("/static/", HERE / "static")
    return app
