"""A merge queue killed during its check: the check ends with it, and its worktree is pruned next time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from gitboard.proc import pid_alive
from tests.helpers.merge_helpers import completed_task, g, init_board, project
from tests.helpers.runtime_helpers import wait_for


def test_a_queue_killed_by_sigkill_ends_its_check_and_the_next_queue_prunes_the_worktree(
        tmp_path: Path, run_cli, gitboard_exe: Path) -> None:
    proj = project(tmp_path / "proj", {"a.txt": "one\n"})
    init_board(proj)
    tid = completed_task(run_cli, proj, "Slow check", {"s.txt": "s\n"}, approve=True)
    marks = tmp_path / "marks"
    marks.mkdir()
    # the check's shell and a background child of it, each writing its pid
    check = f"echo $$ > {marks}/sh; sleep 300 & echo $! > {marks}/child; wait"
    queue = subprocess.Popen([str(gitboard_exe), "merge", "--check", check, "--json"], cwd=proj,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (marks / "child").exists() and (marks / "child").read_text().strip() != "", 60,
                 what="the check to start its child")
        sh, child = (int((marks / n).read_text()) for n in ("sh", "child"))
        assert pid_alive(sh) and pid_alive(child)
        os.kill(queue.pid, signal.SIGKILL)
        queue.wait(timeout=10)
        wait_for(lambda: not pid_alive(sh) and not pid_alive(child), 15, what="the check to end with its queue")
    finally:
        if queue.poll() is None:
            queue.kill()
    # the dead queue's check worktree is still registered ...
    assert "check-" in g(proj, "worktree", "list")
    # ... until the next queue starts, which removes it and merges the task
    res = run_cli(["merge", "--check", "true", "--json"], cwd=proj)
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["merged"] == [tid]
    assert "check-" not in g(proj, "worktree", "list")
    tmp = Path(g(proj, "rev-parse", "--git-common-dir"))
    tmp = (tmp if tmp.is_absolute() else proj / tmp) / "gitboard" / "tmp"
    assert not [p for p in tmp.iterdir() if p.name.startswith("check-")]
