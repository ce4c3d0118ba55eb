"""Teammate process identity: a stale pid (pid file or roster) that now names another program is
never trusted or signalled; a spawn that fails to register leaves nothing running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import roster_ops
from gitboard.proc import (is_teammate_argv, pid_alive, process_argv, process_start, teammate_alive,
                                 this_host)
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact
from tests.helpers.runtime_helpers import FakeTeammate, Spawner, board, make_project, make_remote_project, wait_for

needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")


@pytest.fixture
def spawner(gitboard_exe):
    s = Spawner(gitboard_exe)
    yield s
    s.cleanup()


@pytest.fixture
def bystander():
    """An unrelated program leading its own process group, as a reused pid would name."""
    proc = subprocess.Popen(["sleep", "120"], start_new_session=True)
    yield proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def pids_dir(path: Path) -> Path:
    d = path / ".git" / "gitboard" / "pids"
    d.mkdir(parents=True, exist_ok=True)
    return d


def set_member(path: Path, name: str, **kw) -> None:
    with BoardRepo(path) as r:
        transact(r, partial(roster_ops.set_member, actor=name, name=name, host=this_host(), **kw))


def teammate_processes(name: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and pid_alive(int(entry)):
            argv = process_argv(int(entry))
            if argv and is_teammate_argv(argv, name):
                out.append(int(entry))
    return out


def test_identity_helpers():
    assert isinstance(process_start(os.getpid()), int) or not os.path.isdir("/proc/self")
    assert not teammate_alive(os.getpid(), "alice")  # alive, but this is pytest, not alice
    assert is_teammate_argv([sys.executable, "-m", "gitboard", "-C", "/x", "work", "alice", "--poll", "1"], "alice")
    assert is_teammate_argv(["/usr/bin/python3", "/venv/bin/gitboard", "work", "--poll", "1", "alice"], "alice")
    assert not is_teammate_argv(["/venv/bin/gitboard", "work", "bob"], "alice")
    assert not is_teammate_argv(["vim", "work", "alice"], "alice")
    assert not is_teammate_argv(["/venv/bin/gitboard", "spawn", "alice"], "alice")
    with FakeTeammate("alice") as fake:
        start = process_start(fake.pid)
        assert teammate_alive(fake.pid, "alice") and teammate_alive(fake.pid, "alice", start)
        assert not teammate_alive(fake.pid, "bob")
        if start is not None:
            assert not teammate_alive(fake.pid, "alice", start + 1)  # same pid, another process


@needs_proc
def test_spawn_never_signals_a_stale_pid_that_names_another_program(tmp_path, spawner, bystander):
    path = make_project(tmp_path)
    (pids_dir(path) / "alice.pid").write_text(f"{bystander.pid}\n")  # left by a kill -9, before a reboot
    set_member(path, "alice", status="idle", pid=bystander.pid)
    before = json.loads(subprocess.run([str(spawner.exe), "team", "--json"], cwd=path, capture_output=True).stdout)
    assert before["members"][0]["status"] == "dead"  # the pid is alive, but it is not alice
    spawner.spawn(path, "alice", "--agent", "shell", "--poll", "0.1", "--idle-timeout", "0.5")
    time.sleep(0.5)
    assert bystander.poll() is None, "spawn killed an unrelated process group"


@needs_proc
def test_a_recorded_start_time_tells_a_reused_pid_apart(tmp_path, spawner):
    path = make_project(tmp_path)
    with FakeTeammate("alice") as fake:  # looks like alice, but started after the pid file was written
        (pids_dir(path) / "alice.pid").write_text(f"{fake.pid} {process_start(fake.pid) - 1}\n")
        set_member(path, "alice", status="idle", pid=fake.pid + 10 ** 6)  # a roster pid that names nothing
        spawner.spawn(path, "alice", "--agent", "shell", "--poll", "0.1", "--idle-timeout", "0.5")
        time.sleep(0.5)
        assert fake.proc.poll() is None


@needs_proc
def test_stop_force_leaves_a_stale_pid_alone(tmp_path, run_gitboard, bystander):
    path = make_project(tmp_path)
    set_member(path, "alice", status="working", pid=bystander.pid)
    res = run_gitboard(["stop", "alice", "--force", "--json"], cwd=path)
    assert res.exit_code == 0, res.stderr
    assert res.json()["killed"] is False and res.json()["member"]["status"] == "shutdown"
    time.sleep(0.2)
    assert bystander.poll() is None


@needs_proc
def test_logs_follow_ends_when_the_pid_file_names_another_program(tmp_path, run_gitboard, bystander):
    path = make_project(tmp_path)
    logs = path / ".git" / "gitboard" / "logs"
    logs.mkdir(parents=True)
    (logs / "alice.log").write_text("12:00:00 [alice] started\n")
    (pids_dir(path) / "alice.pid").write_text(f"{bystander.pid}\n")
    res = run_gitboard(["logs", "alice", "-f"], cwd=path, timeout=15)
    assert res.exit_code == 0 and "[alice] started" in res.stdout


@needs_proc
def test_a_spawn_that_cannot_register_ends_its_teammate(tmp_path, run_gitboard):
    remote, (clone,) = make_remote_project(tmp_path, ["clone"])
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'the board is frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    res = run_gitboard(["spawn", "zoe", "--agent", "shell", "--poll", "0.2", "--idle-timeout", "30"], cwd=clone)
    try:
        assert res.exit_code == 3, res.stderr  # a refusal by the hook is an answer: a conflict, exit 3
        assert res.stderr.startswith("gitboard: error: ") and res.stderr.count("\n") == 1, res.stderr
        assert "the board is frozen" in res.stderr
        assert not (clone / ".git" / "gitboard" / "pids" / "zoe.pid").exists()
        wait_for(lambda: not teammate_processes("zoe"), 10, what="zoe's process to be ended")
        assert board(clone).team.member("zoe") is None
    finally:
        for pid in teammate_processes("zoe"):
            os.killpg(pid, signal.SIGKILL)
