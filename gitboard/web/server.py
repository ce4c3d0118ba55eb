"""Running the web board: the token, the URL it prints, uvicorn, and notifications beside it.

``gitboard serve`` binds 127.0.0.1 by default. A token is made at random unless one is
given (``--token`` or ``GITBOARD_WEB_TOKEN``); a host that is not a loopback address
is refused unless one is given explicitly, since the URL would then travel over a network.
While it runs, the board's events are delivered to the configured notification URLs
(:mod:`gitboard.notify`), once per clone even beside a ``gitboard notify --follow``.
"""

from __future__ import annotations

import os
import threading
from typing import Callable

from gitboard.board.errors import Invalid
from gitboard.web import security

#: The environment variable that gives the token (as ``--token`` does).
TOKEN_ENV = "GITBOARD_WEB_TOKEN"
#: Shortest token accepted when given explicitly (characters).
MIN_TOKEN = 16


def choose_token(host: str, given: str | None) -> str:
    """The token to require: ``given`` (``--token``, else :data:`TOKEN_ENV`), else a random one.

    Raises:
        Invalid: a non-loopback ``host`` without a token given explicitly, or a token given
            that is shorter than :data:`MIN_TOKEN` characters or not URL-safe.
    """
    token = given if given is not None else os.environ.get(TOKEN_ENV) or None
    if token is None:
        if not security.is_loopback(host):
            raise Invalid(f"--host {host} is not a loopback address: give a token explicitly "
                          f"(--token, or ${TOKEN_ENV}) to serve the board beyond this machine")
        return security.new_token()
    if len(token) < MIN_TOKEN or not all(c.isalnum() or c in "-_." for c in token):
        raise Invalid(f"the token must be at least {MIN_TOKEN} characters of letters, digits, '-', '_' or '.'")
    return token


def url_of(host: str, port: int, token: str) -> str:
    """The URL ``gitboard serve`` prints: ``http://HOST:PORT/?token=TOKEN``."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def serve(repo_dir: str, *, actor: str, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          poll: float = 2.0, notify: bool = True, say: Callable[[str], None] = print,
          started: Callable[[str, int], None] | None = None) -> None:
    """Serve the web board of the clone at ``repo_dir`` until interrupted.

    Args:
        actor: who the server acts as.
        host, port: where to listen (port 0: any free port; the URL printed names the real one).
        token: the token to require (None: :data:`TOKEN_ENV`, else a random one).
        poll: remote mode: seconds between fetches of the board.
        notify: deliver the board's events to ``gitboard.notify.url`` while it runs.
        say: where notices go (a stopped notifier), one line each.
        started: called with the URL (token included) and the port once the server listens
            (default: ``say`` a sentence with the URL).

    Raises:
        Invalid: a refused host or token (see :func:`choose_token`), a bad actor name.
        GitFailure: not a repository with a board; the remote is unreachable.
        OSError: the address is in use.
    """
    import socket

    import uvicorn

    from gitboard.web.app import Settings, create_app

    token = choose_token(host, token)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    port = sock.getsockname()[1]
    settings = Settings(repo_dir=repo_dir, actor=actor, token=token, host=host, port=port, poll=poll)
    app = create_app(settings)
    stop = threading.Event()
    notifier = None
    if notify:
        from gitboard import notify as notifications

        notifier = threading.Thread(target=notifications.follow_quietly, args=(repo_dir, stop, say),
                                    name="gitboard-notify", daemon=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2,
                            lifespan="on")
    streams_stop = app.app.state.board.stop

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: object) -> None:
            streams_stop.set()  # open event streams end now, so the graceful shutdown has nothing to wait for
            super().handle_exit(sig, frame)

    server = Server(config)
    if started is None:
        say(f"gitboard: serving the board as {actor} at {url_of(host, port, token)}")
    else:
        started(url_of(host, port, token), port)
    if notifier is not None:
        notifier.start()
    import signal

    undo = None
    if threading.current_thread() is threading.main_thread():
        # uvicorn shuts down gracefully on SIGTERM, then raises the signal again once it has
        # put back this handler: the end of a serve, not a death by signal
        previous = signal.signal(signal.SIGTERM, _interrupted)
        undo = lambda: signal.signal(signal.SIGTERM, previous)  # noqa: E731
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        sock.close()
        if undo is not None:
            undo()


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


__all__ = ["serve", "choose_token", "url_of", "TOKEN_ENV", "MIN_TOKEN"]
