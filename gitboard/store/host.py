"""This machine's view of teammate processes: host name, liveness, ending a process group.

The roster records each teammate's ``host`` (:func:`this_host`, i.e.
``socket.gethostname()``) and ``pid``; the pid means something only on that
host. A teammate process is expected to lead its own process group (started
with ``start_new_session=True``), so that ending the group ends its children
(shell commands, agent CLIs) too.
"""

from __future__ import annotations

import os
import signal
import socket
import time


def this_host() -> str:
    """Return this machine's host name, as recorded in the roster's ``host`` (``socket.gethostname()``)."""
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """True if process ``pid`` exists on this host and is not a zombie.

    Uses ``kill(pid, 0)`` (a process of another user counts as alive) and, where
    ``/proc`` exists, treats a zombie (exited, not yet reaped) as dead.
    """
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        state = stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3]
        return state not in (b"Z", b"X")
    except (OSError, ValueError):
        return True


def _signal_group(pid: int, sig: int) -> bool:
    """Send ``sig`` to the process group led by ``pid``, or to ``pid`` alone if it leads no
    group (never to a group it merely belongs to: that may be a shell's). Returns False if
    there was nothing to signal."""
    try:
        os.killpg(pid, sig)
        return True
    except ProcessLookupError:
        pass
    except PermissionError:
        return False
    try:
        os.kill(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def end_process_group(pid: int, grace: float = 5.0) -> bool:
    """End teammate process ``pid`` and its process group: SIGTERM, then SIGKILL after ``grace`` seconds.

    Returns:
        True if the process was alive and was signalled; False if it was already gone
        (or belongs to another user).
    """
    if not pid_alive(pid):
        return False
    if not _signal_group(pid, signal.SIGTERM):
        return False
    limit = time.monotonic() + grace
    while time.monotonic() < limit:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)
    limit = time.monotonic() + 2.0
    while time.monotonic() < limit and pid_alive(pid):
        time.sleep(0.05)
    return True
