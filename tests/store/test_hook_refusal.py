"""A push refused by the remote's pre-receive hook is an answer: HookRefused (exit 3), never retried.

The refusing hook here is a two-line shell script, so that these tests pin the client's
behaviour on its own; the real gitboard hook's refusals are in tests/hook/.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops
from gitboard.board.errors import Conflict, HookRefused
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import Stats, transact
from gitboard.runtime import harness
from gitboard.runtime.port import BoardPort


def refuse_everything(bare: Path) -> None:
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nwhile read old new ref; do echo \"gitboard: refused $new: no, not today\" >&2; done\n"
                    "exit 1\n")
    hook.chmod(0o755)


def test_a_refused_board_push_raises_once_and_moves_nothing(clone, bare_remote, board_tip, git):
    c1 = clone("c1")
    before = board_tip(bare_remote)
    refuse_everything(bare_remote)
    stats = Stats()
    start = time.monotonic()
    with BoardRepo(c1) as r, pytest.raises(HookRefused) as e:
        transact(r, partial(task_ops.add, actor="lead", subject="x"), stats=stats)
    assert time.monotonic() - start < 10
    assert stats.attempts == 1                                   # never retried
    assert isinstance(e.value, Conflict) and e.value.exit_code == 3
    assert e.value.message.startswith("origin refused the push: gitboard: refused ")
    assert e.value.message.endswith(": no, not today")
    assert board_tip(bare_remote) == before == board_tip(c1)     # nothing moved, here or there
    assert git(c1, "rev-parse", "refs/remotes/origin/gitboard") == before


def test_the_cli_reports_a_refusal_in_one_line_with_exit_3(clone, bare_remote, run_gitboard):
    c1 = clone("c1")
    refuse_everything(bare_remote)
    res = run_gitboard(["task", "add", "x"], cwd=c1, timeout=30)
    assert res.exit_code == 3
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gitboard: error: origin refused the push: gitboard: refused ")
    res = run_gitboard(["task", "add", "x", "--json"], cwd=c1, timeout=30)
    assert res.exit_code == 3 and res.json()["error"]["kind"] == "refused"


def test_a_teammate_logs_a_refused_branch_push_and_moves_on(clone, bare_remote, git):
    c1 = clone("c1")
    git(c1, "commit", "-q", "--allow-empty", "-m", "work", ident=True)
    commit = git(c1, "rev-parse", "HEAD")
    refuse_everything(bare_remote)
    lines: list[str] = []
    port = BoardPort(c1, "alice", log=lines.append)
    start = time.monotonic()
    assert harness.push_branch(port, "task/1", commit) is False
    assert time.monotonic() - start < 10
    assert len(lines) == 1 and "refused by the remote's hook" in lines[0] and "no, not today" in lines[0]
    assert git(bare_remote, "for-each-ref", "refs/heads/task") == ""
