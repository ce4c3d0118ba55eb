"""The web board's guard against a real ``gitboard serve``: the token on every request, CSRF
on every write, the Host check, and the refusal of a non-loopback host without a token."""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlencode, urlsplit

import pytest

from gitboard.client import BoardClient
from gitboard.web.security import cookie_name, csrf_token
from tests.helpers.merge_helpers import g


def request(server, method: str, path: str, *, headers: dict | None = None, body: bytes | None = None):
    """One HTTP request to the server (no redirects followed); returns (status, headers, body text)."""
    parts = urlsplit(server.origin)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read().decode(errors="replace")
    finally:
        conn.close()


def test_every_path_refuses_a_request_without_the_token(board_project, serve):
    server = serve(board_project)
    for path in ("/", "/team", "/cost", "/task/1", "/events", "/static/app.css", "/nowhere"):
        status, _, body = request(server, "GET", path)
        assert status == 403, path
        assert body == "gitboard: error: a token is required: open the URL 'gitboard serve' printed\n"
    status, _, _ = request(server, "GET", "/?token=" + "x" * len(server.token))
    assert status == 403
    status, _, _ = request(server, "GET", "/", headers={"Cookie": f"{cookie_name(1)}={server.token}"})
    assert status == 403  # another port's cookie name


def test_the_token_in_the_url_sets_a_cookie_that_then_suffices(board_project, serve):
    server = serve(board_project)
    status, headers, body = request(server, "GET", f"/?token={server.token}")
    assert status == 200 and "Ready" in body
    port = urlsplit(server.origin).port
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"{cookie_name(port)}={server.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    status, _, body = request(server, "GET", "/team", headers={"Cookie": f"{cookie_name(port)}={server.token}"})
    assert status == 200 and "Team" in body


def test_a_write_needs_the_csrf_field(board_project, serve):
    server = serve(board_project)
    port = urlsplit(server.origin).port
    auth = {"Cookie": f"{cookie_name(port)}={server.token}", "Content-Type": "application/x-www-form-urlencoded"}
    tip = g(board_project, "rev-parse", "gitboard")
    for fields in ({"subject": "forged"}, {"subject": "forged", "csrf": "0" * 64}):
        status, _, body = request(server, "POST", "/action/add", headers=auth, body=urlencode(fields).encode())
        assert status == 403 and body.startswith("gitboard: error: the form's CSRF token")
    # a GET never writes
    status, _, _ = request(server, "GET", "/action/add?subject=forged", headers=auth)
    assert status == 405
    # another site's page posting with the user's cookie
    good = urlencode({"subject": "forged", "csrf": csrf_token(server.token)}).encode()
    status, _, body = request(server, "POST", "/action/add", headers={**auth, "Origin": "http://evil.example"},
                              body=good)
    assert status == 403 and "another site" in body
    assert g(board_project, "rev-parse", "gitboard") == tip
    assert BoardClient(board_project).tasks() == []
    # the same form with its CSRF field: one commit, then a redirect back
    status, headers, _ = request(server, "POST", "/action/add", headers=auth,
                                 body=urlencode({"subject": "real", "csrf": csrf_token(server.token),
                                                 "next": "//evil.example/x"}).encode())
    assert status == 303 and re.fullmatch(r"/\?flash=\d+", headers["location"])
    assert [t.subject for t in BoardClient(board_project).tasks()] == ["real"]
    assert g(board_project, "rev-list", "--count", f"{tip}..gitboard") == "1"


def test_a_foreign_host_header_is_refused(board_project, serve):
    server = serve(board_project)
    status, _, body = request(server, "GET", f"/?token={server.token}", headers={"Host": "attacker.example:80"})
    assert status == 403 and "host name" in body


def test_a_non_loopback_host_needs_an_explicit_token(board_project, run_gitboard):
    res = run_gitboard(["serve", "--host", "0.0.0.0", "--port", "0"], cwd=board_project, timeout=30)
    assert res.exit_code == 2
    assert res.stderr == ("gitboard: error: --host 0.0.0.0 is not a loopback address: give a token explicitly "
                          "(--token, or $GITBOARD_WEB_TOKEN) to serve the board beyond this machine\n")
    assert res.stdout == ""
    res = run_gitboard(["serve", "--host", "0.0.0.0", "--port", "0", "--token", "short"], cwd=board_project,
                       timeout=30)
    assert res.exit_code == 2 and res.stderr.startswith("gitboard: error: the token must be at least 16")


def test_an_explicit_token_on_loopback_is_the_one_required(board_project, serve):
    server = serve(board_project, "--token", "a-long-enough-token-0123")
    assert server.token == "a-long-enough-token-0123"
    assert request(server, "GET", "/?token=a-long-enough-token-0123")[0] == 200


@pytest.mark.parametrize("env_token", ["from-the-environment-0123"])
def test_the_token_may_come_from_the_environment(board_project, serve, env_token):
    server = serve(board_project, env={"GITBOARD_WEB_TOKEN": env_token})
    assert server.token == env_token


def test_serve_json_prints_the_address_as_one_json_line(board_project):
    import json
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "gitboard", "serve", "--port", "0", "--no-notify", "--json",
                             "--as", "alice"], cwd=board_project, stdout=subprocess.PIPE, text=True)
    try:
        doc = json.loads(proc.stdout.readline())
        assert set(doc) == {"url", "host", "port", "actor"}
        assert doc["host"] == "127.0.0.1" and doc["actor"] == "alice"
        assert re.fullmatch(rf"http://127\.0\.0\.1:{doc['port']}/\?token=[A-Za-z0-9_-]{{32}}", doc["url"])
        import urllib.request

        with urllib.request.urlopen(doc["url"], timeout=30) as res:  # serving: SIGTERM is uvicorn's to handle
            assert res.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    assert proc.returncode == 0
