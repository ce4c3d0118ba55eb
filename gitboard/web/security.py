"""The web board's guard: a token on every request, CSRF on every write, known hosts only.

- **Token.** ``gitboard serve`` makes a random token (:func:`new_token`, or takes the one
  given) and prints the URL with it, ``http://127.0.0.1:8765/?token=...``, as Jupyter does.
  A request must carry it, in the query (``?token=``) or in the cookie that a request with
  it sets (:func:`cookie_name`: HttpOnly, SameSite=Strict, one name per port). Anything
  else is refused with 403 and gitboard's one line.
- **CSRF.** Every write is a POST whose form carries ``csrf``, a value derived from the
  token (:func:`csrf_token`: HMAC-SHA256), checked in constant time; a POST whose
  ``Origin`` names another site is refused too.
- **Hosts.** A request's ``Host`` must name the address the server listens on (or
  ``localhost`` for a loopback one), which turns away a DNS-rebinding page.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from http.cookies import SimpleCookie
from typing import Any, Awaitable, Callable, Iterable
from urllib.parse import parse_qs

#: Bytes of randomness in a generated token (``secrets.token_urlsafe``: 32 characters).
TOKEN_BYTES = 24
#: The query parameter and form field names.
TOKEN_PARAM, CSRF_FIELD = "token", "csrf"


def new_token() -> str:
    """A fresh random token, 32 URL-safe characters."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def csrf_token(token: str) -> str:
    """The CSRF value of the forms of a server whose token is ``token`` (64 hex digits)."""
    return hmac.new(token.encode(), b"gitboard-csrf", hashlib.sha256).hexdigest()


def cookie_name(port: int) -> str:
    """The token cookie's name for a server on ``port`` (cookies do not tell ports apart)."""
    return f"gitboard_token_{port}"


def is_loopback(host: str) -> bool:
    """True if ``host`` (an address or ``localhost``) is a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, port: int) -> set[str]:
    """The ``Host`` header values a server bound to ``host``:``port`` answers to."""
    names = {host}
    if is_loopback(host):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    if ":" in host and not host.startswith("["):
        names.add(f"[{host}]")
    if host in ("0.0.0.0", "::"):
        return set()  # every interface: any Host (the token still guards)
    return {f"{n}:{port}" for n in names} | names


def same(a: str, b: str) -> bool:
    """Constant-time string equality."""
    return hmac.compare_digest(a.encode(), b.encode())


class Guard:
    """ASGI middleware: the token check (and cookie), and the ``Host`` and ``Origin`` checks.

    Args:
        app: the ASGI application to guard.
        token: the server's token.
        port: its port (names the cookie).
        hosts: allowed ``Host`` values (empty: any).
    """

    def __init__(self, app: Any, token: str, port: int, hosts: Iterable[str]) -> None:
        self.app, self.token, self.port, self.hosts = app, token, port, set(hosts)
        self.cookie = cookie_name(port)

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.hosts and headers.get("host", "") not in self.hosts:
            await _refuse(send, 403, "this server does not answer to that host name")
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = (query.get(TOKEN_PARAM) or [""])[0]
        from_query = bool(given) and same(given, self.token)
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header: as if there were none
            cookie = SimpleCookie()
        held = cookie.get(self.cookie)
        from_cookie = held is not None and same(held.value, self.token)
        if not (from_query or from_cookie):
            await _refuse(send, 403, "a token is required: open the URL 'gitboard serve' printed")
            return
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            origin = headers.get("origin")
            if origin and origin != "null" and self.hosts and origin.split("://", 1)[-1] not in self.hosts:
                await _refuse(send, 403, "a write from another site was refused")
                return
        if not from_query or from_cookie:
            await self.app(scope, receive, send)
            return
        value = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict"

        async def with_cookie(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [(b"set-cookie", value.encode())]
            await send(message)

        await self.app(scope, receive, with_cookie)


async def _refuse(send: Callable[[dict], Awaitable[None]], status: int, why: str) -> None:
    body = f"gitboard: error: {why}\n".encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


__all__ = ["Guard", "new_token", "csrf_token", "cookie_name", "is_loopback", "allowed_hosts", "same",
           "TOKEN_PARAM", "CSRF_FIELD"]
