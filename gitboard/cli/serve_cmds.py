"""``gitboard serve`` (the web board) and ``gitboard notify`` (the board's events to Apprise URLs).

Both import their stacks inside the command: no other command loads starlette,
uvicorn, jinja2 or apprise.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from gitboard.board.text import safe
from gitboard.cli.common import AS_OPT, GLOBALS, JSON_OPT, actor_name


def serve(
    port: int = typer.Option(8765, "--port", metavar="N", min=0, max=65535,
                             help="Port to listen on (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", metavar="H",
                             help="Address to listen on. Not a loopback address only with a token given."),
    token: Optional[str] = typer.Option(None, "--token", metavar="TOKEN",
                                        help="The token to require (default: $GITBOARD_WEB_TOKEN, else a random one)."),
    poll: float = typer.Option(2.0, "--poll", metavar="SECONDS", min=0.5, max=86400.0,
                               help="Remote mode: fetch the board every SECONDS."),
    no_notify: bool = typer.Option(False, "--no-notify", help="Do not deliver notifications while serving."),
    as_: Optional[str] = AS_OPT,
    json_: bool = typer.Option(False, "--json", help='Print the address as one JSON line, {"url", "host", '
                               '"port", "actor"}, not a sentence.'),
) -> int:
    """Serve the board as a web page: columns, the team, reviews, cost, live.

    Prints the URL to open, with its token (every request needs it). Actions (add,
    approve, reject, merge, stop, answer a plan) are taken as --as (the lead by
    default). While it runs, the board's events go to git config gitboard.notify.url
    (as 'gitboard notify --follow' does). Ctrl-C stops it.
    """
    from gitboard.web.server import serve as run

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def started(url: str, bound: int) -> None:
        if json_:
            say(json.dumps({"url": url, "host": host, "port": bound, "actor": actor}))
        else:
            say(f"gitboard: serving the board as {actor} at {url}")

    import json

    actor = actor_name(as_)
    try:
        run(GLOBALS.repo_dir, actor=actor, host=host, port=port, token=token, poll=poll,
            notify=not no_notify, say=lambda line: sys.stderr.write(safe(line) + "\n"), started=started)
    except KeyboardInterrupt:
        pass
    return 0


def notify(
    follow: bool = typer.Option(False, "--follow", help="Keep delivering as the board moves, until interrupted."),
    poll: float = typer.Option(2.0, "--poll", metavar="SECONDS", min=0.1, max=86400.0,
                               help="With --follow: in remote mode, fetch the board every SECONDS."),
    json_: bool = JSON_OPT,
) -> int:
    r"""Deliver the board's events to the Apprise URLs of git config gitboard.notify.url.

    Events since the last delivery in this clone (the first run starts at the current
    tip): a plan request or a message to the lead, a failed task, a rework, a merge, a
    budget stop, a stall, a teammate found dead. git config gitboard.notify.events
    limits the kinds. Each event is delivered once per clone, even beside 'gitboard
    serve'. --json prints {"delivered": \[{"kind", "title", "task"}]} (without --follow).
    """
    import threading

    from gitboard import notify as notifications
    from gitboard.cli.common import emit

    def log(line: str) -> None:
        if not json_:
            sys.stdout.write(safe(line) + "\n")  # event titles quote board text
            sys.stdout.flush()

    if not follow:
        sent = notifications.deliver(GLOBALS.repo_dir, log=log)
        emit(json_, {"delivered": [{"kind": e.kind, "title": e.title, "task": e.task} for e in sent]},
             lambda: None if sent else log("notify: nothing new"))
        return 0
    stop = threading.Event()
    try:
        notifications.follow(GLOBALS.repo_dir, stop, poll=poll, log=log)
    except KeyboardInterrupt:
        stop.set()
    return 0
