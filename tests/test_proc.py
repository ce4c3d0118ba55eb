"""The process runner (gitboard.proc): groups ended TERM then KILL, timeouts, cancels, death with the parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from gitboard import proc


def wait_until(pred, timeout: float = 15.0) -> bool:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_a_group_gets_term_first_then_kill_when_it_ignores_term(tmp_path: Path) -> None:
    # the leader exits on TERM; its child ignores TERM and is killed after the grace period
    script = f"trap '' TERM; sleep 300 & echo $! > {tmp_path}/child; trap - TERM; wait"
    p = proc.start(["/bin/sh", "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_until(lambda: (tmp_path / "child").exists() and (tmp_path / "child").read_text().strip())
    child = int((tmp_path / "child").read_text())
    started = time.monotonic()
    proc.end_group(p, grace=1.0)
    assert p.returncode == -signal.SIGTERM
    assert wait_until(lambda: not proc.pid_alive(child), 10)
    assert time.monotonic() - started >= 0.9  # the child outlived TERM until the KILL


def test_wait_ends_the_group_on_a_timeout_and_on_a_cancel() -> None:
    p = proc.start(["sleep", "300"])
    waited = proc.wait(p, timeout=0.3, grace=1.0)
    assert waited.how == proc.TIMED_OUT and p.returncode == -signal.SIGTERM
    cancel = threading.Event()
    p = proc.start(["sleep", "300"])
    threading.Timer(0.3, cancel.set).start()
    waited = proc.wait(p, timeout=None, cancel=cancel, grace=1.0)
    assert waited.how == proc.CANCELLED and p.returncode == -signal.SIGTERM
    p = proc.start(["sh", "-c", "exit 3"])
    assert proc.wait(p, timeout=10).how == proc.EXITED and p.returncode == 3


def test_a_die_with_parent_group_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    # a parent process starts a group that dies with it, then the parent gets SIGKILL
    code = (f"import sys, time; from gitboard import proc; "
            f"p = proc.start(['/bin/sh', '-c', 'sleep 300 & echo $! > {tmp_path}/child; echo $$ > {tmp_path}/sh; wait'],"
            f" die_with_parent=True); time.sleep(300)")
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        assert wait_until(lambda: all((tmp_path / n).exists() and (tmp_path / n).read_text().strip()
                                      for n in ("child", "sh")), 30)
        pids = [int((tmp_path / n).read_text()) for n in ("child", "sh")]
        assert all(proc.pid_alive(pid) for pid in pids)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        assert wait_until(lambda: not any(proc.pid_alive(pid) for pid in pids), 15)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_the_guard_passes_the_exit_status_and_the_signal_on() -> None:
    p = proc.start(["sh", "-c", "exit 7"], die_with_parent=True)
    assert p.wait(timeout=30) == 7
    p = proc.start(["sh", "-c", "kill -9 $$"], die_with_parent=True)
    assert p.wait(timeout=30) == -signal.SIGKILL
    p = proc.start(["no-such-program-here"], die_with_parent=True, stderr=subprocess.PIPE)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 127 and b"cannot start 'no-such-program-here'" in err
