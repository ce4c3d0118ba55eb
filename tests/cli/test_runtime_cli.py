"""``gitboard spawn``, ``work``, ``logs`` and ``demo`` from the command line: bad input and the happy paths."""

from __future__ import annotations

import json
import os
import subprocess
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import roster_ops
from gitboard.proc import pid_alive, this_host
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact
from tests.helpers.runtime_helpers import FakeTeammate, add_tasks, board, git, log_of, make_project, wait_for


def tip(path: Path) -> str:
    return git(path, "rev-parse", "gitboard")


def one_error_line(res, code: int, *words: str) -> None:
    assert res.exit_code == code, (res.exit_code, res.stderr)
    assert res.stderr.startswith("gitboard: error: ") and res.stderr.count("\n") == 1, res.stderr
    assert "Traceback" not in res.stderr
    for w in words:
        assert w in res.stderr, res.stderr


@pytest.mark.parametrize("args,code,words", [
    (["spawn", "alice", "--agent", "anthropic"], 2, ("ANTHROPIC_API_KEY", "--agent shell", "--agent exec")),
    (["spawn", "alice", "--agent", "exec"], 2, ("--agent-cmd",)),
    (["spawn", "alice", "--agent", "robot"], 2, ("unknown agent",)),
    (["spawn", "Bad Name"], 2, ("invalid name",)),
    (["spawn", "alice", "--poll", "0"], 2, ("--poll",)),
    (["spawn", "alice", "--lease", "-1"], 2, ("--lease",)),
    (["spawn", "alice", "--max-turns", "0"], 2, ("--max-turns",)),
    (["spawn", "alice", "--role", "Not A Role"], 2, ("invalid role",)),
    (["spawn", "zed", "--lease", "inf"], 2, ("--lease",)),
    (["spawn", "zed", "--lease", "2e9"], 2, ("--lease", "1000000000")),
    (["work", "zed", "--poll", "inf"], 2, ("--poll",)),
    (["work", "zed", "--poll", "1e300"], 2, ("--poll",)),
    (["spawn", "zed", "--idle-timeout", "nan"], 2, ("--idle-timeout",)),
    (["work", "zed", "--idle-timeout", "1e7"], 2, ("--idle-timeout",)),
    (["spawn", "lead", "--agent", "shell"], 2, ("'lead' is the human lead's name",)),
    (["work", "lead", "--agent", "shell"], 2, ("'lead' is the human lead's name",)),
    (["work", "alice", "--agent", "anthropic"], 2, ("--agent shell",)),
    (["logs", "nobody"], 4, ("no log for nobody",)),
    (["logs", "../x"], 2, ("invalid name",)),
])
def test_bad_input_is_one_line_and_changes_nothing(tmp_path, run_cli, args, code, words):
    path = make_project(tmp_path)
    before = tip(path)
    res = run_cli(args, cwd=path)
    one_error_line(res, code, *words)
    assert tip(path) == before
    assert not (path / ".git" / "gitboard" / "pids").exists() or not os.listdir(path / ".git" / "gitboard" / "pids")


def test_spawn_outside_a_repository_exits_1(tmp_path, run_cli):
    one_error_line(run_cli(["spawn", "alice", "--agent", "shell"], cwd=tmp_path), 1, "not a git repository")


def test_json_error_document(tmp_path, run_cli):
    path = make_project(tmp_path)
    res = run_cli(["spawn", "alice", "--agent", "anthropic", "--json"], cwd=path)
    assert res.exit_code == 2 and res.json()["error"]["kind"] == "invalid"


def test_spawning_a_name_working_here_exits_3(tmp_path, run_cli):
    path = make_project(tmp_path)
    with FakeTeammate("alice") as alice, BoardRepo(path) as r:  # a live process records alice as working
        transact(r, partial(roster_ops.set_member, actor="alice", name="alice", status="working", host=this_host(),
                            pid=alice.pid))
        before = tip(path)
        one_error_line(run_cli(["spawn", "alice", "--agent", "shell"], cwd=path), 3, "alice is working")
        assert tip(path) == before


def test_work_runs_in_the_foreground_until_idle_timeout(tmp_path, run_gitboard):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "touch", "run": "echo $GITBOARD_ACTOR > who.txt"}])
    res = run_gitboard(["work", "alice", "--agent", "shell", "--poll", "0.1", "--idle-timeout", "0.5"], cwd=path)
    assert res.exit_code == 0, res.stderr
    assert "[alice] claimed #1: touch" in res.stdout and "[alice] idle for 0.5 s: shutting down" in res.stdout
    assert git(path, "show", "task/1:who.txt") == "alice"
    assert board(path).team.member("alice").status == "shutdown"
    assert not (path / ".git" / "gitboard" / "pids" / "alice.pid").exists()


def test_work_json_keeps_stdout_for_the_document(tmp_path, run_gitboard):
    path = make_project(tmp_path)
    res = run_gitboard(["work", "alice", "--json", "--poll", "0.1", "--idle-timeout", "0.3"], cwd=path)
    assert res.exit_code == 0 and res.json() == {"name": "alice", "exit": 0}
    assert "gitboard: note: no ANTHROPIC_API_KEY" in res.stderr and "[alice] started" in res.stderr


@pytest.mark.slow
def test_spawn_defaults_to_shell_with_a_note_and_logs_follow(tmp_path, run_gitboard):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "hello", "run": "echo hello from the task"}])
    res = run_gitboard(["spawn", "alice", "--poll", "0.1", "--idle-timeout", "1", "--json"], cwd=path)
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["agent"] == "shell" and doc["name"] == "alice"
    assert "gitboard: note: no ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN set: using the shell agent" in res.stderr
    assert Path(doc["log"]) == path / ".git" / "gitboard" / "logs" / "alice.log"
    follow = run_gitboard(["logs", "alice", "-f"], cwd=path, timeout=60)  # returns when alice exits
    assert follow.exit_code == 0 and not pid_alive(doc["pid"])
    for line in ("[alice] claimed #1: hello", "[alice] run: echo hello from the task",
                 "[alice] | hello from the task", "[alice] done #1", "[alice] idle for 1 s: shutting down"):
        assert line in follow.stdout
    logs = run_gitboard(["logs", "alice", "--json"], cwd=path)
    assert logs.json()["text"] == log_of(path, "alice")
    # a shut-down name is restarted
    again = run_gitboard(["spawn", "alice", "--agent", "shell", "--poll", "0.1", "--idle-timeout", "0.3"], cwd=path)
    assert again.exit_code == 0, again.stderr
    assert "gitboard: note" not in again.stderr
    wait_for(lambda: log_of(path, "alice").count("shutting down") == 2, 30, what="the restarted alice to exit")


@pytest.mark.slow
def test_demo_runs_end_to_end_offline(tmp_path, gitboard_exe):
    p = subprocess.run([str(gitboard_exe), "demo", "--dir", str(tmp_path)], capture_output=True, text=True,
                       timeout=180, env={**os.environ, "ANTHROPIC_API_KEY": ""})
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.rstrip("\n").splitlines()
    project = Path(lines[-1])
    assert project.is_dir() and project.parent.parent == tmp_path
    assert "The claim history, from git log:" in p.stdout and "claim #1 by" in p.stdout
    listing = subprocess.run([str(gitboard_exe), "task", "list", "--json"], cwd=project, capture_output=True,
                             text=True)
    tasks = json.loads(listing.stdout)
    assert len(tasks) == 5 and all(t["status"] == "merged" for t in tasks)
    assert {t["owner"] for t in tasks} <= {"alice", "bob"}
    assert "checked: 500 numbers" in git(project, "show", "origin/main:REPORT.md")
    # the queue delivered all five into main on the remote, blockers first, and the demo printed the log
    log = git(project, "log", "--first-parent", "--format=%s", "origin/main").splitlines()
    assert log[:5] == [f"Merge task #{i}: {t['subject']}" for i, t in sorted(((t["id"], t) for t in tasks), reverse=True)]
    assert "$ git log --first-parent --oneline origin/main" in p.stdout and "Merge task #5: Write the report" in p.stdout
    assert all(t["result"]["merge"]["check"]["exit_code"] == 0 for t in tasks)


def test_spawn_needs_a_base_commit(repo, run_cli):
    before = tip(repo)
    one_error_line(run_cli(["spawn", "alice", "--agent", "shell"], cwd=repo), 1, "has no commit yet")
    one_error_line(run_cli(["work", "alice", "--agent", "shell"], cwd=repo), 1, "has no commit yet")
    assert tip(repo) == before


def test_demo_into_a_missing_directory_is_a_clean_error(tmp_path, run_cli):
    one_error_line(run_cli(["demo", "--dir", str(tmp_path / "nope")]), 2, "cannot make the demo's directory")
