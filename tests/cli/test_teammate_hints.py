"""What a teammate and ``logs`` say to a newcomer: why a ready task is left, and where a
teammate running in another clone keeps its log."""

from __future__ import annotations

import re

import pytest

from tests.cli.helpers import one_error_line
from tests.helpers.runtime_helpers import Spawner, add_tasks, make_project, make_remote_project, wait_for


def test_a_shell_teammate_says_once_why_it_leaves_a_task_without_a_run_command(tmp_path, run_gitboard) -> None:
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "think about it"}, {"subject": "do it", "run": "true"}])
    res = run_gitboard(["work", "alice", "--agent", "shell", "--poll", "0.1", "--idle-timeout", "0.6"], cwd=path)
    assert res.exit_code == 0, res.stderr
    said = [ln.partition(" ")[2] for ln in res.stdout.splitlines() if "#1" in ln]  # after the time
    assert said == ["[alice] skipping #1: it has no run command, which the shell agent needs "
                    "(gitboard task update 1 --run CMD, or a teammate with another agent)"]
    assert "[alice] done #2" in res.stdout and "[alice] claimed #1" not in res.stdout


@pytest.mark.slow
def test_logs_in_another_clone_points_at_the_clone_that_runs_the_teammate(tmp_path, run_gitboard,
                                                                          gitboard_exe) -> None:
    _, (here, there) = make_remote_project(tmp_path, ["here", "there"])
    spawner = Spawner(gitboard_exe)
    try:
        pid = spawner.spawn(here, "alice", "--agent", "shell", "--poll", "0.2", "--idle-timeout", "60")

        def roster_pid():
            members = run_gitboard(["team", "--json"], cwd=there).json()["members"]
            return next((m for m in members if m["name"] == "alice" and m["pid"] == pid), None)

        member = wait_for(roster_pid, 30, what="alice on the roster")
        res = run_gitboard(["logs", "alice"], cwd=there)
        line = one_error_line(res)
        assert res.exit_code == 4 and "spawn" not in line
        assert re.search(rf"the roster shows alice (idle|working) on host {re.escape(member['host'])}, pid {pid}; "
                         r"its log is in the clone that runs it \(run 'gitboard logs alice' there\)", line), line
        assert run_gitboard(["logs", "alice"], cwd=here).exit_code == 0
        res = run_gitboard(["logs", "bob"], cwd=there)
        assert res.exit_code == 4 and "spawn it with 'gitboard spawn bob'" in one_error_line(res)
    finally:
        spawner.cleanup()
