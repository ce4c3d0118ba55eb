"""Real git transports for tests: ``git daemon`` (git://) and smart HTTP (``git http-backend``).

Both serve a directory of bare repositories on 127.0.0.1, on a free port, and stop when
closed (each is a context manager). Pushes run the repositories' own hooks, in the
server's processes, as on a real server.

- :class:`GitDaemon` runs ``git daemon --enable=receive-pack --export-all --verbose`` and
  waits for its "Ready to rumble" line. git:// has no authentication: the hook sees no pusher.
- :class:`SmartHttp` runs ``git http-backend`` as a CGI program behind a small threaded
  WSGI server (:mod:`wsgiref`) that requires HTTP Basic auth and passes the user on as
  ``REMOTE_USER``, as Apache or nginx would. Request bodies sent with
  ``Transfer-Encoding: chunked`` (git does so for pushes over ``http.postBuffer``, 1 MiB)
  are decoded before they reach the backend.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, Callable, Iterable, Mapping
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (``git daemon --port=0`` picks none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GitDaemon:
    """``git daemon`` serving ``root`` read-write on ``git://127.0.0.1:<port>/``.

    Args:
        root: the directory of bare repositories (``--base-path``).
        env: extra environment for the daemon (and so for the hooks it runs).
        port: the port to listen on (default: a free one); a daemon started again on the port
            of a stopped one serves the same URLs.
    """

    def __init__(self, root: Path, env: Mapping[str, str] | None = None, timeout: float = 30.0,
                 port: int | None = None) -> None:
        self.root = root
        self.lines: list[str] = []
        for attempt in range(5):
            self.port = port or free_port()
            self.proc = subprocess.Popen(
                ["git", "daemon", "--reuseaddr", "--verbose", "--export-all", "--enable=receive-pack",
                 "--informative-errors", f"--base-path={root}", "--listen=127.0.0.1", f"--port={self.port}",
                 str(root)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                env={**os.environ, **(env or {})}, text=True, start_new_session=True)
            ready = threading.Event()
            threading.Thread(target=self._drain, args=(ready,), daemon=True).start()
            ready.wait(timeout)
            if self.proc.poll() is None and ready.is_set():
                return
            self.close()
        raise RuntimeError(f"git daemon did not start: {self.lines[-5:]}")

    def _drain(self, ready: threading.Event) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())
            if "Ready to rumble" in line:
                ready.set()
        ready.set()

    def url(self, repo: str) -> str:
        """The git:// URL of repository ``repo`` (a name under ``root``)."""
        return f"git://127.0.0.1:{self.port}/{repo}"

    def close(self) -> None:
        """Stop the daemon and its children."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 15)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)

    def __enter__(self) -> "GitDaemon":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_chunked(stream: Any) -> bytes:
    """Decode an HTTP/1.1 chunked body from ``stream`` (a file with ``readline``/``read``)."""
    out = bytearray()
    while True:
        line = stream.readline()
        if not line:
            break
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline() not in (b"\r\n", b"\n", b""):  # trailer fields
                pass
            break
        out += stream.read(size)
        stream.readline()  # the CRLF after the chunk
    return bytes(out)


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class SmartHttp:
    """Smart HTTP for the bare repositories under ``root``, with Basic auth.

    Args:
        root: the directory of bare repositories (``GIT_PROJECT_ROOT``).
        users: user name -> password. Every request must authenticate; the user becomes
            ``REMOTE_USER``, which http-backend passes on to the hooks.

    Attributes:
        chunked: the number of request bodies that arrived chunked.
    """

    def __init__(self, root: Path, users: Mapping[str, str]) -> None:
        self.root = root
        self.users = dict(users)
        self.chunked = 0
        self.server = make_server("127.0.0.1", 0, self._app, server_class=_Threading, handler_class=_Quiet)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def url(self, repo: str, user: str | None = None) -> str:
        """The http:// URL of ``repo``, with ``user``'s credentials in it when given."""
        auth = f"{user}:{self.users[user]}@" if user else ""
        return f"http://{auth}127.0.0.1:{self.port}/{repo}"

    def _user(self, environ: Mapping[str, Any]) -> str | None:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Basic "):
            return None
        try:
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        return name if self.users.get(name) == password else None

    def _app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        user = self._user(environ)
        if user is None:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="gitboard tests"'),
                                                 ("Content-Length", "0")])
            return [b""]
        stream = environ["wsgi.input"]
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            body = read_chunked(stream)
            self.chunked += 1
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = stream.read(length) if length else b""
        env = {k: v for k, v in os.environ.items()}
        env.update({k: v for k, v in environ.items() if isinstance(v, str) and (k.startswith("HTTP_") or k in (
            "REQUEST_METHOD", "QUERY_STRING", "CONTENT_TYPE", "PATH_INFO", "REMOTE_ADDR", "SERVER_PROTOCOL"))})
        env.pop("HTTP_AUTHORIZATION", None)
        env.pop("HTTP_TRANSFER_ENCODING", None)
        env.update({"GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1", "REMOTE_USER": user,
                    "CONTENT_LENGTH": str(len(body)), "GATEWAY_INTERFACE": "CGI/1.1"})
        p = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
        head, _, payload = p.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = p.stdout.partition(b"\n\n")
        status = "200 OK"
        headers = []
        for line in head.decode(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = value.strip()
            elif key:
                headers.append((key.strip(), value.strip()))
        headers.append(("Content-Length", str(len(payload))))
        start_response(status, headers)
        return [payload]

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def __enter__(self) -> "SmartHttp":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "a condition") -> Any:
    """Poll ``predicate`` until it returns something true (returned), or fail after ``timeout`` seconds."""
    limit = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > limit:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)
