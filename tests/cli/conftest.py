"""Fixtures of the CLI tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def team(run_cli, repo):
    """A board repository whose roster has alice and bob (added through ``gitboard team add``)."""
    for name in ("alice", "bob"):
        assert run_cli(["team", "add", name], cwd=repo).exit_code == 0
    return repo
