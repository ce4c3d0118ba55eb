"""``gitboard watch`` on a pseudo-terminal of 80 x 24 (no tmux needed): it draws on the alternate
screen, shows a task added by another process, quits on q, and leaves the terminal as it found it."""

from __future__ import annotations

import os
import select
import struct
import subprocess
import sys
import time

import pytest

from tests.cli.helpers import ok

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no pseudo-terminals")


class Pty:
    """A pseudo-terminal pair; :meth:`read_until` drains the program's output (so it never blocks)."""

    def __init__(self) -> None:
        import fcntl
        import termios

        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.out = b""

    def read_until(self, needle: bytes, what: str, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while needle not in self.out:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; output tail: {self.out[-600:]!r}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    self.out += os.read(self.master, 65536)
                except OSError:  # the program closed the terminal
                    break

    def drain_until_exit(self, proc: subprocess.Popen, timeout: float = 30.0) -> int:
        end = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.out += os.read(self.master, 65536)
                except OSError:
                    break
        return proc.wait(timeout=max(end - time.monotonic(), 1))

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def test_watch_on_a_pty_shows_a_new_task_and_q_restores_the_terminal(repo, gitboard_exe, run_gitboard):
    import termios

    term = Pty()
    before = termios.tcgetattr(term.slave)
    proc = subprocess.Popen([str(gitboard_exe), "watch"], cwd=repo, stdin=term.slave, stdout=term.slave,
                            stderr=term.slave, env={**os.environ, "TERM": "xterm-256color"}, start_new_session=True)
    try:
        term.read_until(b"gitboard watch", "the first frame")
        during = termios.tcgetattr(term.slave)
        assert not during[3] & termios.ICANON and not during[3] & termios.ECHO  # cbreak while it runs
        ok(run_gitboard(["task", "add", "Appears on the pty"], cwd=repo))
        term.read_until(b"Appears on the pty", "the new task")
        os.write(term.master, b"q")
        code = term.drain_until_exit(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    after = termios.tcgetattr(term.slave)
    term.close()
    assert code == 0
    assert after == before                                  # canonical mode and echo are back
    assert b"\x1b[?1049h" in term.out                                   # on the alternate screen,
    assert term.out.rfind(b"\x1b[?1049l") > term.out.rfind(b"\x1b[?1049h")  # which it left
    assert term.out.rfind(b"\x1b[?25h") > term.out.rfind(b"\x1b[?25l")  # and the cursor shown again
