"""This machine's view of teammate processes: host name, liveness, identity, ending a process group.

The roster records each teammate's ``host`` (:func:`this_host`, i.e.
``socket.gethostname()``) and ``pid``; the pid means something only on that
host. A teammate process is expected to lead its own process group (started
with ``start_new_session=True``), so that ending the group ends its children
(shell commands, agent CLIs) too.

Pids are reused: after a ``kill -9`` or a reboot the pid file and the roster
still name a pid that may now belong to an unrelated program. Before a pid is
trusted (shown alive) or signalled, its identity is checked
(:func:`teammate_alive`):

- by its **start time** (:func:`process_start`, ``/proc/<pid>/stat`` field 22,
  in clock ticks since boot), when the caller recorded it with the pid (the pid
  file does); a different start time is a different process;
- else by its **command line** (:func:`process_argv`): a teammate runs
  ``... gitboard ... work ... NAME ...`` (``python -m gitboard -C DIR work NAME``
  or the ``gitboard`` console script), see :func:`is_teammate_argv`.

Where ``/proc`` is absent (macOS, BSD) the command line comes from ``ps``; where
neither is available, liveness (``kill(pid, 0)``) is all there is, as before.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from typing import Sequence


def this_host() -> str:
    """Return this machine's host name, as recorded in the roster's ``host`` (``socket.gethostname()``)."""
    return socket.gethostname()


def _stat_fields(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (field 3, the state, first), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rindex(b")") + 2:].split()
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """True if process ``pid`` exists on this host and is not a zombie.

    Uses ``kill(pid, 0)`` (a process of another user counts as alive) and, where
    ``/proc`` exists, treats a zombie (exited, not yet reaped) as dead. Says
    nothing about *which* program the pid is: see :func:`teammate_alive`.
    """
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError):
        return False
    fields = _stat_fields(pid)
    if fields is None:
        return True
    return fields[0] not in (b"Z", b"X")


def process_start(pid: int) -> int | None:
    """Return when process ``pid`` started: field 22 of ``/proc/<pid>/stat`` (``starttime``, in
    clock ticks since boot), or None where ``/proc`` is absent or there is no such process.

    Together with the pid it identifies a process: a later process that reuses the pid
    has a later start time.
    """
    if not isinstance(pid, int) or pid <= 0:
        return None
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields is not None else None  # field 22; fields[0] is field 3
    except (IndexError, ValueError):
        return None


def process_argv(pid: int) -> list[str] | None:
    """Return process ``pid``'s command line as a list of arguments, or None if it cannot be read.

    Reads ``/proc/<pid>/cmdline``; without ``/proc``, asks ``ps -o args= -p PID`` (the
    arguments then are split on white space). A zombie or kernel thread gives ``[]``.
    """
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
        return [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return None  # /proc works: the process is gone
    except OSError:
        return None
    try:
        p = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if p.returncode != 0:
        return None
    return p.stdout.decode(errors="replace").split()


def is_teammate_argv(argv: Sequence[str], name: str) -> bool:
    """True if ``argv`` is the command line of teammate ``name``: a ``gitboard`` program
    (``python -m gitboard``, or a ``gitboard`` script) whose arguments include ``work``
    followed, later, by ``name``."""
    args = list(argv)
    for i, arg in enumerate(args):
        if arg != "work":
            continue
        program = any(os.path.basename(a) == "gitboard" or a.endswith(("gitboard/__main__.py", "gitboard/cli/main.py"))
                      for a in args[:i])
        if program and name in args[i + 1:]:
            return True
    return False


def teammate_alive(pid: int | None, name: str, start: int | None = None) -> bool:
    """True if ``pid`` is alive on this host *and* is teammate ``name``'s process.

    Args:
        pid: the recorded pid (None or <= 0: False).
        name: the teammate's name.
        start: the process start time recorded with the pid (:func:`process_start`), or None.

    With ``start`` and ``/proc``, the start time must match. Otherwise the command line
    must be a teammate's (:func:`is_teammate_argv`). When neither can be read (no
    ``/proc`` and no ``ps``) a live pid is trusted.
    """
    if pid is None or not pid_alive(pid):
        return False
    if start is not None:
        now = process_start(pid)
        if now is not None:
            return now == start
    argv = process_argv(pid)
    if argv is None:
        return pid_alive(pid)  # nothing to verify with: liveness is all there is
    return is_teammate_argv(argv, name)


def _same_process(pid: int, start: int | None) -> bool:
    if not pid_alive(pid):
        return False
    if start is None:
        return True
    now = process_start(pid)
    return now is None or now == start


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


def end_process_group(pid: int, grace: float = 5.0, start: int | None = None) -> bool:
    """End teammate process ``pid`` and its process group: SIGTERM, then SIGKILL after ``grace`` seconds.

    Callers check the pid's identity first (:func:`teammate_alive`). With ``start`` (its
    :func:`process_start`), the process is signalled only while it is still that process,
    so a pid reused meanwhile is never signalled.

    Returns:
        True if the process was alive and was signalled; False if it was already gone
        (or belongs to another user, or is another process now).
    """
    if start is None:
        start = process_start(pid)
    if not _same_process(pid, start):
        return False
    if not _signal_group(pid, signal.SIGTERM):
        return False
    limit = time.monotonic() + grace
    while time.monotonic() < limit:
        if not _same_process(pid, start):
            return True
        time.sleep(0.05)
    if _same_process(pid, start):
        _signal_group(pid, signal.SIGKILL)
    limit = time.monotonic() + 2.0
    while time.monotonic() < limit and _same_process(pid, start):
        time.sleep(0.05)
    return True
