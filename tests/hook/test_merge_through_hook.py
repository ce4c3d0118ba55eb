"""The merge queue's atomic push (base + board) through the hook: a lead's merge lands on a
protected base, anyone else's is refused (exit 3, one line) and nothing moves."""

from __future__ import annotations

import sys
from pathlib import Path

from gitboard.store.hooks import install
from tests.merge_helpers import completed_task, first_parent, g, init_board, project


def test_a_protected_base_takes_the_leads_merge_queue_only(tmp_path: Path, run_cli) -> None:
    bare = tmp_path / "remote.git"
    g(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    install(str(bare), leads=["ann"], protect_base=True, python=sys.executable)
    a = project(tmp_path / "a", {"a.txt": "a\n"})
    g(a, "remote", "add", "origin", str(bare))
    g(a, "push", "-q", "origin", "main")
    init_board(a, remote="origin")
    tid = completed_task(run_cli, a, "One", {"one.txt": "1\n"}, push=True, approve=True)
    before = (g(bare, "rev-parse", "main"), g(bare, "rev-parse", "gitboard"))
    g(a, "config", "remote.origin.receivepack", "env GITBOARD_PUSHER=bob git-receive-pack")
    res = run_cli(["merge", "--json"], cwd=a)
    assert res.exit_code == 3, res.stderr
    assert res.stderr.count("\n") == 1 and "origin refused the push: gitboard: refused " in res.stderr
    assert (g(bare, "rev-parse", "main"), g(bare, "rev-parse", "gitboard")) == before
    g(a, "config", "remote.origin.receivepack", "env GITBOARD_PUSHER=ann git-receive-pack")
    res = run_cli(["merge", "--json"], cwd=a)
    assert res.exit_code == 0, res.stderr
    assert res.json()["merged"] == [tid]
    assert first_parent(bare)[0] == f"Merge task #{tid}: One"
