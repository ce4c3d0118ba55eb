"""The merge queue's atomic push (base + board) through the hook: a lead's merge lands on a
protected base, anyone else's is refused (exit 3, one line) and nothing moves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitboard.store.hooks import install
from tests.helpers.merge_helpers import completed_task, first_parent, g, remote_project


def protected(tmp_path: Path, run_cli) -> tuple[Path, Path, int]:
    """A bare remote with a protected base (ann a lead) and a clone with one approved task whose
    branch is pushed: ``(bare, clone, task id)``."""
    bare, a = remote_project(tmp_path)
    install(str(bare), leads=["ann"], protect_base=True, python=sys.executable)
    return bare, a, completed_task(run_cli, a, "One", {"one.txt": "1\n"}, push=True, approve=True)


def test_a_protected_base_takes_the_leads_merge_queue_only(tmp_path: Path, run_cli) -> None:
    bare, a, tid = protected(tmp_path, run_cli)
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


def test_a_protected_base_refuses_a_merge_the_board_does_not_record(tmp_path: Path, run_cli) -> None:
    """A lead's hand-made merge commit with the queue's trailers, pushed without the board's
    ``merge`` commit, is refused: the base takes only merges the board records."""
    bare, a, tid = protected(tmp_path, run_cli)
    g(a, "config", "remote.origin.receivepack", "env GITBOARD_PUSHER=ann git-receive-pack")
    tree = g(a, "rev-parse", f"task/{tid}^{{tree}}")
    msg = f"Merge task #{tid}: One\n\nGitboard-Task: {tid}\nGitboard-Actor: lead\n"
    forged = g(a, "commit-tree", tree, "-p", "main", "-p", f"task/{tid}", "-m", msg)
    before = g(bare, "rev-parse", "main")
    p = subprocess.run(["git", "push", "origin", f"{forged}:refs/heads/main"], cwd=a, capture_output=True, text=True)
    assert p.returncode != 0 and g(bare, "rev-parse", "main") == before
    assert f"gitboard: refused {forged}: the board does not record this merge as task #{tid}'s" in p.stderr, p.stderr
    res = run_cli(["merge", "--json"], cwd=a)  # the queue's own merge, board and base together, lands
    assert res.exit_code == 0 and res.json()["merged"] == [tid], res.stderr
