"""The board's ``merge`` commits are tied to the base: where the hook sees the base branch, a merge
record is refused unless its merge commit exists, is on the base (in the same push or already),
and merges the approved commit of an approved task. ``gitboard merge`` itself still lands."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from gitboard.board import review_ops
from tests.hook.forgery import board_at, forge, trailers
from tests.helpers.merge_helpers import completed_task, first_parent, g, remote_project


def merge_record(clone: Path, tid: int, commit: str) -> str:
    """A ``merge`` board commit on origin/gitboard recording task ``tid`` merged in ``commit``, made by
    hand exactly as the merge queue writes it (legal for the board's own rules when the task is completed)."""
    g(clone, "fetch", "-q", "origin")
    parent = g(clone, "rev-parse", "origin/gitboard")
    b = board_at(clone, parent)
    change = review_ops.mark_merged(b, datetime.now(timezone.utc), actor="lead", task_id=tid, commit=commit,
                                    base=g(clone, "rev-parse", "origin/main"), require_review=False)
    (path, data), = change.writes.items()
    return forge(clone, parent, {path: data}, trailers("merge", "lead", tid, ("Gitboard-Merge-Commit", commit)))


def push(clone: Path, *refspecs: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "push", "--atomic", "origin", *refspecs], cwd=clone, capture_output=True,
                          text=True, env={**os.environ, "GITBOARD_PUSHER": "ann"})


def project(tmp_path: Path, run_cli, approve: bool) -> tuple[Path, Path, int]:
    bare, a = remote_project(tmp_path)
    g(bare, "config", "gitboard.hook.leads", "ann")
    return bare, a, completed_task(run_cli, a, "One", {"one.txt": "1\n"}, push=True, approve=approve)


def test_a_merge_of_an_unapproved_task_naming_no_commit_is_refused(tmp_path: Path, run_cli) -> None:
    bare, a, tid = project(tmp_path, run_cli, approve=False)
    before = g(bare, "rev-parse", "gitboard")
    record = merge_record(a, tid, "c" * 40)
    res = push(a, f"{record}:refs/heads/gitboard")
    assert res.returncode == 1
    assert f"gitboard: refused {record}: merge by lead: task #{tid}'s merge names 'cccc" in res.stderr, res.stderr
    assert g(bare, "rev-parse", "gitboard") == before
    # a real merge commit, on the base, but of a task never approved
    merge = g(a, "commit-tree", g(a, "rev-parse", f"task/{tid}^{{tree}}"), "-p", "main", "-p", f"task/{tid}",
              "-m", "merge")
    record = merge_record(a, tid, merge)
    res = push(a, f"{merge}:refs/heads/main", f"{record}:refs/heads/gitboard")
    assert res.returncode == 1
    assert f"refused {record}: merge by lead: task #{tid} was merged without an approval" in res.stderr, res.stderr
    assert g(bare, "rev-parse", "gitboard") == before and g(bare, "rev-parse", "main") == g(a, "rev-parse", "main")


def test_a_merge_commit_off_the_base_or_of_another_commit_is_refused(tmp_path: Path, run_cli) -> None:
    bare, a, tid = project(tmp_path, run_cli, approve=True)
    before = g(bare, "rev-parse", "gitboard")
    tree = g(a, "rev-parse", f"task/{tid}^{{tree}}")
    merge = g(a, "commit-tree", tree, "-p", "main", "-p", f"task/{tid}", "-m", "merge")
    g(a, "push", "-q", "origin", f"{merge}:refs/heads/elsewhere")     # exists on the server, not on main
    record = merge_record(a, tid, merge)
    res = push(a, f"{record}:refs/heads/gitboard")
    assert res.returncode == 1 and f"merge commit {merge[:12]} is not on the base branch" in res.stderr, res.stderr
    side = g(a, "commit-tree", tree, "-p", "main", "-m", "side work, never approved")
    other = g(a, "commit-tree", tree, "-p", "main", "-p", side, "-m", "not it")
    record = merge_record(a, tid, other)
    res = push(a, f"{other}:refs/heads/main", f"{record}:refs/heads/gitboard")
    assert res.returncode == 1 and f"was approved at {g(a, 'rev-parse', f'task/{tid}')[:12]}" in res.stderr
    assert g(bare, "rev-parse", "gitboard") == before
    # the record of the true merge, pushed with it, lands
    record = merge_record(a, tid, merge)
    res = push(a, f"{merge}:refs/heads/main", f"{record}:refs/heads/gitboard")
    assert res.returncode == 0, res.stderr


def test_the_merge_queue_still_lands_through_the_hook(tmp_path: Path, run_cli) -> None:
    bare, a, tid = project(tmp_path, run_cli, approve=True)
    res = run_cli(["merge", "--json"], cwd=a)
    assert res.exit_code == 0 and res.json()["merged"] == [tid], res.stderr
    assert first_parent(bare)[0] == f"Merge task #{tid}: One"
