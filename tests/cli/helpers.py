"""Assertions shared by the CLI tests."""

from __future__ import annotations


def ok(res):
    """Assert a CLI result exited 0 (showing its output if not) and return it."""
    assert res.exit_code == 0, (res.stdout, res.stderr)
    return res


def one_error_line(res) -> str:
    """Assert stderr is exactly one ``gitboard: error: ...`` line and return it."""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gitboard: error: "), res.stderr
    return lines[0]
