"""A test session leaves no hook server behind: the one its pushes started ends with it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gitboard.store.hooks import package_root
from tests.helpers.hook_servers import end_hook_server, hook_server_pid

ROOT = Path(__file__).resolve().parent.parent

INNER = '''
import os, time
from pathlib import Path

from gitboard.store.hooks import package_root
from tests.helpers.hook_servers import hook_server_pid


def test_a_push_through_the_hook(clone):
    clone("first")  # init --remote pushes the board through the hooked bare remote
    clone("second")
    deadline = time.monotonic() + 20
    pid = hook_server_pid(package_root())
    while pid is None and time.monotonic() < deadline:  # the hook starts it in the background
        time.sleep(0.05)
        pid = hook_server_pid(package_root())
    assert pid is not None
    Path(os.environ["INNER_PID_FILE"]).write_text(str(pid))
'''


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the hook server is Linux-only")
def test_a_session_ends_the_hook_server_its_pushes_started(tmp_path: Path) -> None:
    running = hook_server_pid(package_root())
    if running is not None:  # this session's own server: the inner session must start its own
        end_hook_server(running)
    test = tmp_path / "test_inner.py"
    test.write_text(textwrap.dedent(INNER))
    pid_file = tmp_path / "pid"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
                        "--rootdir", str(tmp_path), str(test)], cwd=ROOT, capture_output=True, text=True,
                       env={**env, "INNER_PID_FILE": str(pid_file)}, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), f"the hook server {pid} outlived the session that started it"
    assert hook_server_pid(package_root()) is None
