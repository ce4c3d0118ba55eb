"""Where task worktrees live: the per-user state directory, outside any .git directory and the working tree.

Real git repositories; XDG_STATE_HOME is the test's own (tests/conftest.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops, roster_ops
from gitboard.proc import this_host
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact
from gitboard.runtime.worktree import (WorktreeError, checked_out_elsewhere, checkouts, find_worktree,
                                    inbox_worktree_path, kill_leftover, legacy_worktree_path, prepare, remove,
                                    repo_id, worktree_path, worktrees_dir)
from tests.helpers.runtime_helpers import add_tasks, board, git, lead, make_project, teammate


def claim(path: Path, task_id: int, actor: str = "alice"):
    with BoardRepo(path) as r:
        return transact(r, partial(task_ops.claim, actor=actor, task_id=task_id, lease=600))


def state_root() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "gitboard" / "worktrees"


def test_worktrees_go_to_the_state_directory_named_by_repo_id(tmp_path):
    path = make_project(tmp_path, name="my project")
    add_tasks(path, [{"subject": "a"}])
    task = claim(path, 1)
    with BoardRepo(path) as r:
        rid = repo_id(r)
        wt = prepare(r, task, board(path), actor="alice")
        assert inbox_worktree_path(r, "alice") == state_root() / rid / "inbox-alice"
    assert rid.startswith("my_project-") and len(rid) == len("my_project-") + 10
    assert wt.path == state_root() / rid / "task-1"
    assert (wt.path / "README.md").exists() and ".git" not in wt.path.parts
    assert git(wt.path, "rev-parse", "--abbrev-ref", "HEAD") == "task/1"
    # the same id from a linked worktree of the clone; another clone of the same name gets another
    with BoardRepo(wt.path) as r:
        assert repo_id(r) == rid
    other = make_project(tmp_path / "elsewhere", name="my project")
    with BoardRepo(other) as r:
        assert repo_id(r) != rid and repo_id(r).startswith("my_project-")
    # nothing under the git directory, nothing in the user's checkout
    assert not legacy_worktree_path(BoardRepo(path), 1).exists()
    assert git(path, "status", "--porcelain") == ""


def test_without_xdg_state_home_it_is_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_STATE_HOME")
    path = make_project(tmp_path)
    with BoardRepo(path) as r:
        assert worktrees_dir(r) == Path(os.environ["HOME"]) / ".local" / "state" / "gitboard" / "worktrees" / repo_id(r)
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")  # the XDG spec: relative values are ignored
    with BoardRepo(path) as r:
        assert worktrees_dir(r).is_relative_to(Path(os.environ["HOME"]) / ".local" / "state")


def test_git_config_gitboard_worktrees_overrides(tmp_path):
    path = make_project(tmp_path)
    git(path, "config", "gitboard.worktrees", str(tmp_path / "wts"))
    add_tasks(path, [{"subject": "a"}])
    task = claim(path, 1)
    with BoardRepo(path) as r:
        wt = prepare(r, task, board(path), actor="alice")
        assert wt.path == tmp_path / "wts" / repo_id(r) / "task-1"
    assert (wt.path / "README.md").exists()
    assert not state_root().exists()


@pytest.mark.parametrize("where", ["inside-tree", "inside-git", "relative"])
def test_a_location_inside_the_working_tree_or_git_dir_is_refused(tmp_path, where, run_cli):
    path = make_project(tmp_path)
    value = {"inside-tree": str(path / "wts"), "inside-git": str(path / ".git" / "wts"), "relative": "wts"}[where]
    git(path, "config", "gitboard.worktrees", value)
    add_tasks(path, [{"subject": "a"}])
    task = claim(path, 1)
    with BoardRepo(path) as r, pytest.raises(WorktreeError) as e:
        prepare(r, task, board(path), actor="alice")
    assert "gitboard.worktrees" in e.value.message
    assert not (path / "wts").exists() and not (path / ".git" / "wts").exists()
    res = run_cli(["work", "alice", "--agent", "shell"], cwd=path)  # refused before it starts
    assert res.exit_code == 1 and res.stderr.startswith("gitboard: error: ") and "gitboard.worktrees" in res.stderr


def test_state_home_inside_the_working_tree_is_refused(tmp_path, monkeypatch):
    path = make_project(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(path / "state"))
    with BoardRepo(path) as r, pytest.raises(WorktreeError, match="inside the working tree"):
        worktrees_dir(r)
    assert not (path / "state").exists()


def test_own_worktrees_are_not_the_users_checkouts(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "a"}, {"subject": "b"}])
    task = claim(path, 1)
    git(path, "branch", "task/2", "main")
    user_wt = tmp_path / "user-checkout"
    git(path, "worktree", "add", "-q", str(user_wt), "task/2")
    with BoardRepo(path) as r:
        wt = prepare(r, task, board(path), actor="alice")
        listing = checkouts(r)
        assert "task/1" not in listing and listing["task/2"] == [user_wt]
        assert checkouts(r, own=True)["task/1"] == [wt.path]
        assert checked_out_elsewhere(listing, "task/2") == [user_wt]


def make_legacy(path: Path, task_id: int, files: dict[str, str]) -> Path:
    """A worktree where earlier versions put it, on task/<id> from main, with uncommitted files."""
    git(path, "branch", f"task/{task_id}", "main")
    with BoardRepo(path) as r:
        legacy = legacy_worktree_path(r, task_id)
    legacy.parent.mkdir(parents=True, exist_ok=True)
    git(path, "worktree", "add", "-q", str(legacy), f"task/{task_id}")
    for name, text in files.items():
        (legacy / name).write_text(text)
    return legacy


def test_a_worktree_at_the_old_location_keeps_working_until_its_task_ends(tmp_path):
    """A teammate that crashed under an earlier version left its worktree under .git: the restarted
    teammate resumes the task there (its work so far kept), and the worktree goes when the task ends."""
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "a", "run": "cat wip.txt > seen.txt"}])
    claim(path, 1)
    legacy = make_legacy(path, 1, {"wip.txt": "work so far\n"})
    with BoardRepo(path) as r:
        assert find_worktree(r, 1) == legacy
    t, lines = teammate(path, "alice")
    assert t.run() == 0
    task = board(path).tasks[1]
    assert task.status == "completed", lines
    assert git(path, "show", f"{task.result['commit']}:seen.txt") == "work so far"
    assert any(f"reusing the worktree left at {legacy}" in ln and "old location" in ln for ln in lines), lines
    assert not legacy.exists()
    with BoardRepo(path) as r:
        assert not worktree_path(r, 1, create=False).exists() and find_worktree(r, 1) is None


def test_a_broken_worktree_at_the_old_location_is_replaced_at_the_new_one(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "a"}])
    task = claim(path, 1)
    with BoardRepo(path) as r:
        legacy = legacy_worktree_path(r, 1)
        legacy.mkdir(parents=True)
        (legacy / "junk").write_text("x")
        wt = prepare(r, task, board(path), actor="alice")
        assert wt.path == worktree_path(r, 1) and not legacy.exists()
        remove(r, wt.path)
        assert not wt.path.exists() and "task/1" not in checkouts(r, own=True)
        assert not wt.path.parent.exists() and state_root().is_dir()  # the clone's directory went with it


def test_a_command_left_running_under_an_old_pgid_record_is_killed(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "a"}])
    claim(path, 1)
    legacy = make_legacy(path, 1, {})
    proc = subprocess.Popen(["sleep", "60"], cwd=legacy, start_new_session=True)
    try:
        with BoardRepo(path) as r:
            record = Path(r.common_dir, "gitboard", "worktrees", "task-1.pgid")  # where earlier versions put it
            record.write_text(f"{proc.pid}\n")
            assert kill_leftover(Path(r.common_dir) / "gitboard", 1, legacy)
        assert proc.wait(timeout=10) == -signal.SIGKILL and not record.exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_team_and_logs_show_where_each_worktree_is(tmp_path, run_cli):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "a"}])
    task = claim(path, 1)
    lead(path, partial(roster_ops.set_member, actor="alice", name="alice", status="working", task=1,
                       host=this_host(), pid=None, role=None))
    lead(path, partial(roster_ops.add_member, actor="lead", name="bob"))
    with BoardRepo(path) as r:
        wt = prepare(r, task, board(path), actor="alice")
    doc = run_cli(["team", "--json"], cwd=path).json()
    where = {m["name"]: m["worktree"] for m in doc["members"]}
    assert where == {"alice": str(wt.path), "bob": None}
    human = run_cli(["team"], cwd=path)
    assert f"alice's worktree: {wt.path}" in " ".join(human.stdout.split())
    with BoardRepo(path) as r:
        from gitboard.runtime.process import log_path

        log_path(r, "alice").write_text("a line\n")
    logs = run_cli(["logs", "alice", "--json"], cwd=path).json()
    assert logs["worktree"] == str(wt.path)
    assert run_cli(["logs", "alice"], cwd=path).stdout.startswith(f"--- alice works in {wt.path}\n")
