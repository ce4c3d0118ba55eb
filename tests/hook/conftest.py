"""Fixtures for the hook's tests: a bare repository with gitboard's hook, served over git:// or smart HTTP.

``server`` is parametrised over both transports; ``http_server`` is smart HTTP only (it
has identities). Users: alice, bob (teammates) and ann (a lead: ``gitboard.hook.leads``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from gitboard.store.hooks import install
from tests.conftest import _git, _init_board
from tests.helpers.transports import GitDaemon, SmartHttp

USERS = {"alice": "pw-alice", "bob": "pw-bob", "ann": "pw-ann"}
LEADS = ("ann",)


@dataclass
class Served:
    """A served bare repository: ``bare`` on disk, reached by ``url(user)``."""

    kind: str
    bare: Path
    transport: GitDaemon | SmartHttp

    def url(self, user: str | None = None) -> str:
        if isinstance(self.transport, SmartHttp):
            return self.transport.url(self.bare.name, user or "ann")
        return self.transport.url(self.bare.name)


def _serve(kind: str, root: Path) -> Iterator[Served]:
    bare = root / "board.git"
    _git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    install(str(bare), leads=LEADS, python=sys.executable)
    if kind == "git":
        with GitDaemon(root) as daemon:
            yield Served(kind, bare, daemon)
    else:
        with SmartHttp(root, USERS) as http:
            yield Served(kind, bare, http)


@pytest.fixture(params=["git", "http"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    """The board's remote, hooked, over git:// (git daemon) and over smart HTTP (as ann, a lead)."""
    root = tmp_path / "srv"
    root.mkdir()
    yield from _serve(request.param, root)


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[Served]:
    """The board's remote, hooked, over smart HTTP with Basic auth (alice, bob; ann is a lead)."""
    root = tmp_path / "srv"
    root.mkdir()
    yield from _serve("http", root)


@pytest.fixture
def remote_clone(tmp_path: Path) -> Callable[..., Path]:
    """``remote_clone(served, name, user=None, init=True) -> Path``: a clone in remote mode."""

    def make(served: Served, name: str, user: str | None = None, init: bool = True) -> Path:
        path = tmp_path / name
        _git(tmp_path, "clone", "-q", served.url(user), str(path))
        if init:
            _init_board(path, remote="origin")
        return path

    return make
