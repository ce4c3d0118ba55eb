"""The web board as a Starlette application: server-rendered pages, POST actions, live updates.

Pages (GET): ``/`` the board (columns, filters, search), ``/task/{id}`` a task (review,
diff, check, rework, result, usage and cost, its board history), ``/team`` the roster,
``/cost`` usage and cost with a chart. A GET with the header ``X-Gitboard-Partial: 1``
gets only the page's live part, which the page's script fetches again each time the
board moves.

Actions (POST, each with the form's CSRF field; see :mod:`gitboard.web.security`):
``/action/add``, ``/action/approve``, ``/action/reject``, ``/action/merge``,
``/action/stop``, ``/action/plan``. Each is one call of the server's
:class:`~gitboard.client.BoardClient` (one board commit; the merge queue one commit per
merged or reworked task), then a redirect (303) back to the page, which shows what
happened or gitboard's one error line.

Live: ``/events`` is a Server-Sent Events stream with one ``tip`` event each time the
local board ref moves (watched by :class:`gitboard.store.refwatch.TipFollower`; in
remote mode a :class:`~gitboard.store.refwatch.Fetcher` fetches every ``poll`` seconds).

Board text is data: templates autoescape, and control characters (a terminal escape
sequence in a subject) are shown as ``\\x1b``, never passed through.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gitboard.board.errors import BoardError, Invalid, NotFound
from gitboard.client import BoardClient
from gitboard.web import security
from gitboard.web.columns import COLUMNS, WINDOW, ColumnsCache, countdown

#: Seconds between two looks at the tip by an open event stream (the follower notices a
#: moved ref within 0.1 s), and between two keep-alive comments.
EVENT_TICK, KEEPALIVE = 0.2, 15.0
#: Largest form body accepted (bytes): a task's description fits many times over.
MAX_FORM = 1_000_000
#: Flash messages kept for redirected pages (oldest dropped).
FLASH_KEEP = 256
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(value: Any) -> Any:
    """A template value as shown: a string's control characters (but newline and tab) as
    ``\\xNN`` (a terminal escape sequence in board text is shown, not passed on)."""
    if isinstance(value, str) and _CONTROL.search(value):
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return value


@dataclass
class Settings:
    """How one server runs.

    Attributes:
        repo_dir: a directory of the clone.
        actor: who the server acts as (``--as``; default the lead).
        token: the token every request must carry.
        host, port: where it listens.
        poll: remote mode: seconds between two fetches of the board.
    """

    repo_dir: str
    actor: str
    token: str
    host: str = "127.0.0.1"
    port: int = 8765
    poll: float = 2.0


@dataclass
class State:
    """What the application keeps between requests."""

    settings: Settings
    client: BoardClient
    follower: Any = None
    fetcher: Any = None
    columns: ColumnsCache = field(default_factory=ColumnsCache)
    flashes: dict[str, tuple[bool, str]] = field(default_factory=dict)
    counter: Any = field(default_factory=itertools.count)
    stop: threading.Event = field(default_factory=threading.Event)
    remote: str | None = None
    merging: threading.Lock = field(default_factory=threading.Lock)

    def flash(self, ok: bool, text: str) -> str:
        """Keep a message for the next page; return its key."""
        key = f"{next(self.counter)}"
        self.flashes[key] = (ok, text)
        while len(self.flashes) > FLASH_KEEP:
            self.flashes.pop(next(iter(self.flashes)))
        return key

    def tip(self) -> str | None:
        """The board tip last seen by the follower."""
        return self.follower.tip if self.follower is not None else None


def _environment() -> Environment:
    from gitboard.web.highlight import css
    from gitboard.words import compact, usd

    env = Environment(loader=PackageLoader("gitboard.web", "templates"), autoescape=True,
                      finalize=visible, trim_blocks=True, lstrip_blocks=True)
    env.filters["usd"] = lambda v, unpriced=0: usd(v, unpriced)
    env.filters["compact"] = compact
    env.filters["short"] = lambda v, n=10: (v or "")[:n]
    env.filters["visible"] = visible
    env.globals["diff_css"] = Markup(css())
    return env


def create_app(settings: Settings, *, watch: bool = True) -> Any:
    """The web board's ASGI application: a Starlette app (its :class:`State` in
    ``app.state.board``) wrapped in :class:`~gitboard.web.security.Guard` (as ``.app``).

    Args:
        settings: the server's settings.
        watch: follow the board ref (and fetch in remote mode) in background threads, for
            the live updates.

    Raises:
        Invalid: ``settings.actor`` is not a valid name.
        GitFailure: not a repository with a board.
    """
    client = BoardClient(settings.repo_dir, settings.actor)
    state = State(settings, client)
    with client.open() as repo:
        state.remote = None if repo.offline else repo.remote
        tip = client.listing(repo=repo)[0]  # fetched once now; an unreachable remote fails here
    env = _environment()
    csrf = security.csrf_token(settings.token)

    def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        partial = request.headers.get("x-gitboard-partial") == "1"
        flash = state.flashes.pop(request.query_params.get("flash", ""), None)
        context.update(request=request, csrf=csrf, actor=settings.actor, remote=state.remote, flash=flash,
                       path=request.url.path, here=_here(request), columns_def=COLUMNS, when=_when)
        if state.fetcher is not None and state.fetcher.error:
            context["fetch_error"] = state.fetcher.error
        template = env.get_template(f"_{name}.html" if partial else f"{name}.html")
        return HTMLResponse(template.render(**context), status_code=status,
                            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                                     "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                                "img-src 'self' data:; frame-ancestors 'none'",
                                     "Referrer-Policy": "no-referrer"})

    # -- pages ------------------------------------------------------------------------
    def board_page(request: Request) -> Response:
        from gitboard.board.clock import utcnow

        q = request.query_params
        tip, index = client.listing(fresh=False)
        cols = state.columns.get(tip, index)
        limits = {}
        for key, _ in COLUMNS:
            try:
                limits[key] = int(q.get(f"n_{key}", WINDOW))
            except ValueError:
                limits[key] = WINDOW
        role, owner, query = q.get("role", ""), q.get("owner", ""), q.get("q", "")
        page = cols.page(role=role, owner=owner, query=query, limits=limits)
        plans = _pending_plans(client)
        now = utcnow()
        keep = {k: v for k, v in (("role", role), ("owner", owner), ("q", query)) if v}

        def more(key: str, n: int) -> str:
            args = dict(keep)
            args.update({f"n_{k}": str(v) for k, v in limits.items() if v != WINDOW})
            args[f"n_{key}"] = str(n)
            return "/?" + urlencode(args)

        return render(request, "board", tip=tip, columns=page, roles=cols.roles(), owners=cols.owners(),
                      role=role, owner=owner, q=query, plans=plans, now=now, more=more,
                      countdown=lambda lease: countdown(lease, now), size=cols.size, corrupt=len(index.corrupt),
                      filtered=bool(keep))

    def task_page(request: Request) -> Response:
        from gitboard.web import pages

        try:
            task_id = int(request.path_params["task_id"])
        except ValueError:
            return _error_page(render, request, NotFound("no such task"))
        try:
            data = pages.task(client, task_id)
        except BoardError as e:
            return _error_page(render, request, e)
        return render(request, "task", **data)

    def team_page(request: Request) -> Response:
        from gitboard.web import pages

        return render(request, "team", **pages.team(client))

    def cost_page(request: Request) -> Response:
        from gitboard.web import pages
        from gitboard.web.charts import day_bars

        data = pages.cost(client)
        return render(request, "cost", chart=Markup(day_bars(data["by"]["day"])), **data)

    # -- actions ----------------------------------------------------------------------
    def action(run: Callable[[dict[str, str]], str]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            fields = await _form(request)
            if fields is None:
                return PlainTextResponse("gitboard: error: a form must be application/x-www-form-urlencoded "
                                         f"and at most {MAX_FORM:,} bytes\n", status_code=400)
            back = _local(fields.get("next", "/"))
            if not security.same(fields.get(security.CSRF_FIELD, ""), csrf):
                return PlainTextResponse("gitboard: error: the form's CSRF token is missing or wrong; "
                                         "reload the page\n", status_code=403)
            try:
                said, ok = await run_in_threadpool(run, fields), True
            except BoardError as e:
                said, ok = f"gitboard: error: {e.message}", False
            except Exception as e:  # a bug: one line, as the command line says it
                said, ok = f"gitboard: error: internal error: {type(e).__name__}: {e}", False
            key = state.flash(ok, said)
            sep = "&" if "?" in back else "?"
            return RedirectResponse(f"{back}{sep}flash={key}", status_code=303)

        return endpoint

    def do_add(f: dict[str, str]) -> str:
        blockers = [int(x) for x in re.findall(r"\d+", f.get("blocked_by", ""))]
        t = client.add_task(f.get("subject", ""), f.get("description", "").replace("\r\n", "\n"),
                            blocked_by=blockers, role=f.get("role", "").strip() or None)
        return f"added #{t.id}: {t.subject}"

    def do_approve(f: dict[str, str]) -> str:
        t = client.approve(_task_id(f), note=f.get("note", "").strip() or None)
        return f"approved #{t.id} for the merge queue"

    def do_reject(f: dict[str, str]) -> str:
        feedback = f.get("feedback", "").replace("\r\n", "\n").strip()
        if not feedback:
            raise Invalid("rejecting needs feedback: say what to change")
        t = client.reject(_task_id(f), feedback)
        return f"sent #{t.id} back for rework"

    def do_merge(f: dict[str, str]) -> str:
        from gitboard.merge_queue.queue import run_queue

        ids = [_task_id(f)] if f.get("task_id") else None
        if not state.merging.acquire(blocking=False):
            raise BoardError("the merge queue is already running from this page")
        try:
            done = run_queue(settings.repo_dir, ids, actor=settings.actor, stop=state.stop)
        finally:
            state.merging.release()
        parts = [f"merged {len(done['merged'])}" + (" (" + ", ".join(f"#{i}" for i in done["merged"]) + ")"
                                                      if done["merged"] else "")]
        if done["rework"]:
            parts.append("rework " + ", ".join(f"#{r['id']} ({r['reason']})" for r in done["rework"]))
        if done["waiting"]:
            parts.append("waiting " + ", ".join(f"#{i}" for i in done["waiting"]))
        if done.get("stale"):
            parts.append("stale approval " + ", ".join(f"#{r['id']}" for r in done["stale"]))
        return "merge queue: " + "; ".join(parts)

    def do_stop(f: dict[str, str]) -> str:
        name = f.get("name", "")
        req = client.request_shutdown(name, f.get("reason", "").strip())
        return f"asked {name} to shut down (request {req.request_id[:12]})"

    def do_plan(f: dict[str, str]) -> str:
        approve = f.get("verdict") == "approve"
        req = client.respond_plan(f.get("request_id", ""), approve, f.get("feedback", "").strip())
        return f"{'approved' if approve else 'rejected'} {req.from_}'s plan"

    # -- live -------------------------------------------------------------------------
    async def events(request: Request) -> Response:
        async def stream():
            seen = request.query_params.get("tip") or state.tip()
            yield f"retry: 1000\nevent: hello\ndata: {state.tip() or ''}\n\n"
            if seen != state.tip():
                seen = state.tip()
                yield f"event: tip\ndata: {seen}\n\n"
            quiet = time.monotonic()
            while not state.stop.is_set():
                await asyncio.sleep(EVENT_TICK)
                if await request.is_disconnected():
                    return
                tip = state.tip()
                if tip != seen:
                    seen = tip
                    quiet = time.monotonic()
                    yield f"event: tip\ndata: {tip}\n\n"
                elif time.monotonic() - quiet > KEEPALIVE:
                    quiet = time.monotonic()
                    yield ": keep-alive\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    routes = [
        Route("/", board_page),
        Route("/task/{task_id}", task_page),
        Route("/team", team_page),
        Route("/cost", cost_page),
        Route("/events", events),
        Route("/action/add", action(do_add), methods=["POST"]),
        Route("/action/approve", action(do_approve), methods=["POST"]),
        Route("/action/reject", action(do_reject), methods=["POST"]),
        Route("/action/merge", action(do_merge), methods=["POST"]),
        Route("/action/stop", action(do_stop), methods=["POST"]),
        Route("/action/plan", action(do_plan), methods=["POST"]),
        Mount("/static", app=StaticFiles(packages=[("gitboard.web", "static")]), name="static"),
    ]

    def start() -> None:
        if not watch:
            return
        from gitboard.store.refwatch import Fetcher, TipFollower

        state.follower = TipFollower(settings.repo_dir, tip)
        state.follower.thread.start()
        if state.remote:
            state.fetcher = Fetcher(settings.repo_dir, settings.poll)
            state.fetcher.thread.start()

    def shutdown() -> None:
        state.stop.set()
        for part in (state.follower, state.fetcher):
            if part is not None:
                part.stop.set()

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Starlette):
        start()
        try:
            yield
        finally:
            shutdown()

    inner = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        BoardError: lambda request, e: _error_page(render, request, e)})
    inner.state.board = state
    return security.Guard(inner, settings.token, settings.port, security.allowed_hosts(settings.host, settings.port))


async def _form(request: Request) -> dict[str, str] | None:
    """The fields of a POSTed HTML form (``application/x-www-form-urlencoded``, what the
    pages' forms send), or None for another type or a body over :data:`MAX_FORM` bytes."""
    from urllib.parse import parse_qsl

    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def _pending_plans(client: BoardClient) -> list:
    """The plan requests waiting for an answer (read at the local tip)."""
    from gitboard.board.request import PLAN, requests_of

    return [r for r in requests_of(client.board(fresh=False), PLAN) if not r.answered]


def _task_id(f: dict[str, str]) -> int:
    raw = f.get("task_id", "").strip().lstrip("#")
    if not raw.isdigit():
        raise Invalid(f"not a task id: {raw!r}")
    return int(raw)


def _local(path: str) -> str:
    """``path`` if it is a path of this site (``/...``, not ``//host``), else ``/``."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or any(c in path for c in "\r\n"):
        return "/"
    return re.sub(r"([?&])flash=[^&]*&?", r"\1", path).rstrip("?&") or "/"


def _here(request: Request) -> str:
    """The request's path and query, without the token and the flash key (where a form comes back to)."""
    args = [(k, v) for k, v in request.query_params.multi_items() if k not in (security.TOKEN_PARAM, "flash")]
    return request.url.path + ("?" + urlencode(args) if args else "")


def _when(iso: str | None) -> str:
    from gitboard.board.clock import utcnow
    from gitboard.web.pages import when

    return when(iso, utcnow())


def _error_page(render: Callable[..., Response], request: Request, e: BoardError) -> Response:
    status = 404 if isinstance(e, NotFound) else 400 if isinstance(e, Invalid) else 409
    return render(request, "error", status=status, message=f"gitboard: error: {e.message}")


__all__ = ["Settings", "State", "create_app", "visible"]
