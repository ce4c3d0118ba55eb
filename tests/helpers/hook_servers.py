"""The hook server of an installation, seen from the tests: its pid, and ending it.

The installed pre-receive hook starts one warm server per user and installation
(:mod:`gitboard.hook.server`), detached, which exits after ten minutes without a push. The
suite's session fixture (``tests/conftest.py``) ends the one it started with these.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time


def hook_server_pid(root: str, python: str = sys.executable) -> int | None:
    """The pid of the hook server of installation ``root`` run by ``python`` (None: none listens)."""
    from gitboard.hook.entry import server_name

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(server_name(python, root, os.getuid()))
        cred = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)  # struct ucred: pid, uid, gid
        return int.from_bytes(cred[:4], sys.byteorder)
    except OSError:
        return None
    finally:
        s.close()


def end_hook_server(pid: int, grace: float = 5.0) -> None:
    """End the hook server ``pid``: SIGTERM (a push it is judging goes on in its forked child),
    then SIGKILL after ``grace`` seconds. Gone already is fine."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
