"""Fixtures of the web board and notification tests: a project with a board, a running
``gitboard serve`` (a real process on a loopback port), and headless Chromium.

``serve(path, *args, env=None) -> Server``
    Start ``gitboard serve --port 0 --no-notify *args`` in ``path`` and wait for the URL it
    prints; the server is stopped (SIGTERM, by its pid) at the end of the test.
``browser``
    A Playwright Chromium browser on Debian's ``chromium``; the test is skipped, saying why,
    when Playwright or chromium is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.helpers.merge_helpers import init_board, project


@dataclass
class Server:
    """A running ``gitboard serve``: its URL with the token, the origin and token apart, the process."""

    url: str
    origin: str
    token: str
    proc: subprocess.Popen

    def at(self, path: str, token: bool = True) -> str:
        """The URL of ``path`` on the server, with the token in the query when ``token``."""
        sep = "&" if "?" in path else "?"
        return f"{self.origin}{path}{sep}token={self.token}" if token else f"{self.origin}{path}"


@pytest.fixture
def board_project(tmp_path: Path) -> Path:
    """A project on ``main`` (one file, ``a.txt``) with a board, local mode."""
    path = project(tmp_path / "proj", {"a.txt": "a\n"})
    init_board(path)
    return path


def start_server(path: Path, *args: str, env: dict | None = None, notify: bool = False) -> Server:
    argv = [sys.executable, "-m", "gitboard", "serve", "--port", "0", *args]
    if not notify:
        argv.append("--no-notify")
    proc = subprocess.Popen(argv, cwd=path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    line = proc.stdout.readline()
    m = re.search(r"(http://[^/\s]+)/\?token=(\S+)", line)
    if not m:
        proc.kill()
        raise AssertionError(f"gitboard serve printed {line!r}; stderr: {proc.stderr.read()}")
    return Server(m.group(0), m.group(1), m.group(2), proc)


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(5)


@pytest.fixture
def serve() -> Iterator:
    started: list[Server] = []

    def run(path: Path, *args: str, env: dict | None = None, notify: bool = False) -> Server:
        server = start_server(path, *args, env=env, notify=notify)
        started.append(server)
        return server

    yield run
    for server in started:
        stop_server(server)


@pytest.fixture(scope="module")
def chromium_path() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install playwright)")
    return exe


@pytest.fixture
def browser(chromium_path: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path)
        try:
            yield b
        finally:
            b.close()
