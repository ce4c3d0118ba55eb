"""``gitboard watch`` as a terminal program, in a real tmux terminal of 80 x 24.

Start it, change the board from other processes (locally, and through a bare remote),
see the change appear, watch a lease count down, quit with q (and with Ctrl-C), and
check the terminal is restored: the alternate screen is gone and the tty is back in
canonical mode with echo.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.cli.helpers import ok

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

MARK = "BEFORE-WATCH"


class Tmux:
    """One private tmux server (own socket, no user config) running one 80 x 24 window."""

    def __init__(self, tmp: Path) -> None:
        self.sock = str(tmp / f"tmux-{uuid.uuid4().hex[:8]}.sock")
        self.tmp = tmp

    def tmux(self, *args: str) -> str:
        p = subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null", *args], capture_output=True,
                           text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        return p.stdout

    def start(self, cwd: Path, argv: list[str]) -> None:
        """Run ``argv`` in the window, after a marker line; afterwards record its exit status and ``stty -a``."""
        # the shell survives Ctrl-C (a trap, not an ignore: the program gets the default SIGINT)
        script = (f"trap : INT; cd {shlex.quote(str(cwd))}; echo {MARK}; {shlex.join(argv)}; "
                  f"echo $? > {shlex.quote(str(self.tmp / 'exit'))}; "
                  f"stty -a > {shlex.quote(str(self.tmp / 'stty'))}; sleep 600")
        self.tmux("new-session", "-d", "-s", "w", "-x", "80", "-y", "24", "sh", "-c", script)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "w")

    def wait_screen(self, pred, what: str, timeout: float = 60.0) -> str:
        end = time.monotonic() + timeout
        while True:
            text = self.screen()
            if pred(text):
                return text
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{text}")
            time.sleep(0.2)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "w", *keys)

    def wait_exit(self, timeout: float = 30.0) -> tuple[int, str]:
        end = time.monotonic() + timeout
        exit_file, stty_file = self.tmp / "exit", self.tmp / "stty"
        while not (stty_file.exists() and stty_file.read_text().strip()):
            if time.monotonic() > end:
                raise AssertionError(f"watch did not exit; screen:\n{self.screen()}")
            time.sleep(0.1)
        return int(exit_file.read_text()), stty_file.read_text()

    def kill(self) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def term(tmp_path):
    t = Tmux(tmp_path)
    yield t
    t.kill()


def lease_cell(screen: str, task_id: int) -> str:
    for ln in screen.splitlines():
        words = ln.split()
        if words[:2] == [str(task_id), "in_progress"]:
            return words[3]
    return ""


def assert_restored(term: Tmux) -> None:
    code, stty = term.wait_exit()
    assert code == 0
    flags = stty.split()
    assert "icanon" in flags and "echo" in flags, stty   # not -icanon / -echo
    screen = term.screen()
    assert MARK in screen and "gitboard watch ·" not in screen, screen  # the alternate screen is gone


def test_watch_shows_a_task_added_by_another_process_counts_down_and_quits_with_q(term, repo, run_gitboard,
                                                                                   gitboard_exe):
    ok(run_gitboard(["task", "add", "Claimed with a lease"], cwd=repo))
    ok(run_gitboard(["task", "claim", "1", "--as", "alice", "--lease", "600"], cwd=repo))
    term.start(repo, [str(gitboard_exe), "watch"])
    first = term.wait_screen(lambda s: "gitboard watch ·" in s and lease_cell(s, 1), "the first frame")
    assert len(first.splitlines()) <= 24 and all(len(ln) <= 80 for ln in first.splitlines())
    ok(run_gitboard(["task", "add", "Added from another process"], cwd=repo))
    term.wait_screen(lambda s: "Added from another process" in s, "the new task", timeout=30)
    before = lease_cell(term.screen(), 1)
    term.wait_screen(lambda s: lease_cell(s, 1) not in ("", before), "the lease countdown to tick", timeout=10)
    term.keys("q")
    assert_restored(term)


def test_watch_in_remote_mode_fetches_every_poll_and_quits_with_ctrl_c(term, clone, run_gitboard, gitboard_exe):
    mine, theirs = clone("mine"), clone("theirs")
    term.start(mine, [str(gitboard_exe), "watch", "--poll", "0.5"])
    term.wait_screen(lambda s: "tasks 0" in s and "origin" in s, "the first frame")
    ok(run_gitboard(["task", "add", "Pushed from another clone"], cwd=theirs))
    term.wait_screen(lambda s: "Pushed from another clone" in s, "the task from the other clone", timeout=30)
    term.keys("C-c")
    assert_restored(term)
