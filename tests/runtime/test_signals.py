"""Signals to a teammate process: a second SIGTERM/SIGINT while it is stopping still stops its
command group and releases its task (it used to exit at once, leaving both behind)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from gitboard.proc import pid_alive
from tests.helpers.runtime_helpers import Spawner, add_tasks, board, log_of, make_project, task_worktree, wait_for

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_still_stops_the_command_and_releases_the_task(tmp_path, gitboard_exe, sig):
    path = make_project(tmp_path)
    # the command ignores SIGTERM, so the teammate is still stopping it when the second signal comes
    add_tasks(path, [{"subject": "stubborn", "run": "trap '' TERM; echo $$ > cmd.pid; sleep 60 & wait"}])
    spawner = Spawner(gitboard_exe)
    try:
        pid = spawner.spawn(path, "alice", "--agent", "shell", "--poll", "0.2", "--idle-timeout", "30")
        record = task_worktree(path, 1) / "cmd.pid"
        wait_for(lambda: record.exists() and record.read_text().strip(), 30, what="alice to start the command")
        cmd = int(record.read_text())
        os.kill(pid, sig)
        time.sleep(0.3)
        os.kill(pid, sig)
        wait_for(lambda: not pid_alive(pid), 20, what="alice to exit")
    finally:
        spawner.cleanup()
    log = log_of(path, "alice")
    assert not pid_alive(cmd), log
    task = board(path).tasks[1]
    assert task.status == "pending" and task.owner == "", log
    assert "again: already stopping" in log and "released #1" in log
    assert "Traceback" not in log
