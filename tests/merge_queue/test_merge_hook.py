"""The review and merge-queue commits pass the remote's pre-receive hook (installed for real,
with a protected base and an enforced lead identity), pushed through a real bare remote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitboard.merge_queue.queue import run_queue
from tests.helpers.merge_helpers import completed_task, first_parent, g, remote_project


@pytest.fixture
def hooked(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    bare, lead = remote_project(tmp_path, "lead", {"a.txt": "one\ntwo\n"})
    res = run_cli(["hook", "install", str(bare), "--lead", "boss", "--protect-base", "--json"])
    assert res.exit_code == 0, res.stderr
    g(bare, "config", "gitboard.hook.actors.boss", "*")  # boss plays alice too, to set the tasks up
    monkeypatch.setenv("GITBOARD_PUSHER", "boss")  # the server knows who pushes: a lead
    return bare, lead


def test_review_verdicts_and_the_queue_pass_the_hook(hooked: tuple[Path, Path], run_cli) -> None:
    bare, lead = hooked
    a = completed_task(run_cli, lead, "Edit a", {"a.txt": "ONE\ntwo\n"}, push=True, approve=True)
    b = completed_task(run_cli, lead, "Edit a too", {"a.txt": "uno\ntwo\n"}, push=True, approve=True)
    c = completed_task(run_cli, lead, "Bad check", {"c.txt": "c\n"}, push=True, approve=True)
    d = completed_task(run_cli, lead, "Rejected", {"d.txt": "d\n"}, push=True)
    assert run_cli(["reject", d, "--feedback", "again"], cwd=lead).exit_code == 0
    doc = run_queue(lead, check="test ! -e c.txt")
    assert doc == {"merged": [a], "rework": [{"id": b, "reason": "conflict", "paths": ["a.txt"]},
                                             {"id": c, "reason": "check", "paths": []}], "waiting": [], "stale": [], "unapproved": [], "no_branch": []}
    assert first_parent(bare)[:2] == [f"Merge task #{a}: Edit a", "start"]
    actions = g(bare, "log", "--format=%(trailers:key=Gitboard-Action,valueonly,separator=)", "gitboard").split()
    assert actions[:4] == ["rework", "rework", "merge", "reject"]
    board = json.loads(g(bare, "show", f"gitboard:{_task_path(bare, a)}"))
    assert board["status"] == "merged"


def test_the_hook_refuses_what_the_queue_never_writes(hooked: tuple[Path, Path], run_cli) -> None:
    bare, lead = hooked
    before = g(bare, "rev-parse", "main")
    g(lead, "commit", "-q", "--allow-empty", "-m", "a plain commit")
    res = _push(lead, "main")
    assert res.returncode != 0 and "merge-queue commits" in res.stderr
    assert g(bare, "rev-parse", "main") == before


def _push(cwd: Path, ref: str):
    import subprocess

    return subprocess.run(["git", "push", "origin", ref], cwd=cwd, capture_output=True, text=True)


def _task_path(bare: Path, tid: int) -> str:
    files = g(bare, "ls-tree", "-r", "--name-only", "gitboard").splitlines()
    return next(f for f in files if f.endswith(f"/task_{tid}.json") or f == f".tasks/task_{tid}.json")
