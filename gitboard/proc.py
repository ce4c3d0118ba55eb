"""The one process runner: commands in their own process group, pid identity, ending a group.

Every command gitboard starts as a group of its own (a teammate, a task's ``run``
command, an agent CLI, the bash tool, the merge queue's check) is started by
:func:`start` and ended by :func:`end_group` (SIGTERM to the whole group, then
SIGKILL after a grace period), so ending it ends its children too. :func:`wait`
waits for one with a timeout and a cancel (a :class:`threading.Event`). No other
module calls :func:`os.killpg`. Two starts of a session stay outside, on purpose: git
commands that must not be cut by a Ctrl-C (:func:`gitboard.store.git.run` with
``new_session``; gitboard never ends them), and the warm hook server, which the hook's
entry script starts with the standard library alone (a push waits for every import).

``die_with_parent`` makes the whole group end when the process that started it
dies, even by SIGKILL: a small guard (:data:`_GUARD`, a Python process) leads the
group with Linux ``prctl(PR_SET_PDEATHSIG, SIGTERM)`` and runs the command as its
child; when the parent dies, the guard ends the group (SIGTERM, then SIGKILL after
:data:`GUARD_GRACE` seconds) and exits. The guard passes the command's exit status
on (a command killed by a signal makes the guard die of the same signal). Where
``prctl`` is missing (not Linux) the guard only waits.

Pid identity. The roster records each teammate's ``host`` (:func:`this_host`, i.e.
``socket.gethostname()``) and ``pid``; the pid means something only on that host.
Pids are reused: after a ``kill -9`` or a reboot the pid file and the roster still
name a pid that may now belong to an unrelated program. Before a pid is trusted
(shown alive) or signalled, its identity is checked (:func:`teammate_alive`):

- by its **start time** (:func:`process_start`, ``/proc/<pid>/stat`` field 22,
  in clock ticks since boot), when the caller recorded it with the pid (the pid
  file does); a different start time is a different process;
- else by its **command line** (:func:`process_argv`): a teammate runs
  ``... gitboard ... work ... NAME ...`` (``python -m gitboard -C DIR work NAME``
  or the ``gitboard`` console script), see :func:`is_teammate_argv`.

Where ``/proc`` is absent (macOS, BSD) the command line comes from ``ps``; where
neither is available, liveness (``kill(pid, 0)``) is all there is.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Any, Callable, Mapping, Sequence, Union

#: Seconds between SIGTERM and SIGKILL when a group is ended (:func:`end_group`'s default).
DEFAULT_GRACE = 2.0
#: Seconds the guard of a ``die_with_parent`` group waits between SIGTERM and SIGKILL.
GUARD_GRACE = 2.0

#: The guard that leads a ``die_with_parent`` group: ``python -I -S -c _GUARD PARENT_PID GRACE -- ARGV...``.
#: It asks the kernel for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``, 1 in ``<linux/prctl.h>``),
#: checks the parent did not die before that took effect, runs ARGV as its child (in its group), and on
#: SIGTERM ends the group: SIGTERM, then SIGKILL after GRACE seconds.
_GUARD = r"""
import os, signal, sys, time
parent, grace, argv = int(sys.argv[1]), float(sys.argv[2]), sys.argv[4:]
ending = []
def end(signum, frame):
    if ending:
        return
    ending.append(signum)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        os.killpg(0, signal.SIGTERM)
    except OSError:
        pass
    limit = time.monotonic() + grace
    while time.monotonic() < limit:
        try:
            if os.waitpid(child, os.WNOHANG)[0]:
                break
        except ChildProcessError:
            break
        time.sleep(0.02)
    os.killpg(0, signal.SIGKILL)
signal.signal(signal.SIGTERM, end)
signal.signal(signal.SIGINT, signal.SIG_IGN)
try:
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
except Exception:
    pass
if os.getppid() != parent:
    end(signal.SIGTERM, None)
try:
    child = os.fork()
except OSError as e:
    sys.stderr.write(f"cannot start {argv[0]!r}: {e.strerror}\n")
    os._exit(127)
if child == 0:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        sys.stderr.write(f"cannot start {argv[0]!r}: {e.strerror}\n")
        os._exit(127)
while True:
    try:
        _, status = os.waitpid(child, 0)
        break
    except InterruptedError:
        continue
    except ChildProcessError:
        os._exit(1)
if os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
    if sig not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)
os._exit(os.WEXITSTATUS(status))
"""

_File = Union[int, IO[Any], None]
#: Whether ``/proc`` lists processes (Linux): then a group's members can be seen, not only its leader.
_HAS_PROC = os.path.isdir("/proc/self")


def _pdeathsig_kill() -> None:  # runs in the child between fork and exec
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def start(argv: Sequence[str], *, cwd: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
          stdin: _File = subprocess.DEVNULL, stdout: _File = None, stderr: _File = None,
          session: bool = True, die_with_parent: bool = False, leader_dies_with_parent: bool = False,
          close_fds: bool = True) -> subprocess.Popen:
    """Start ``argv`` as the leader of a new process group and return its :class:`subprocess.Popen`.

    Args:
        argv: the program and its arguments.
        cwd, env, stdin, stdout, stderr, close_fds: as for :class:`subprocess.Popen` (``env`` None:
            this process's environment).
        session: True: a new session (``setsid``: no controlling terminal, outlives the starting
            shell); False: a new process group in this session (``setpgid(0, 0)``), which keeps the
            terminal for programs that look at it.
        die_with_parent: the whole group ends when this process dies, even by SIGKILL (through the
            guard described in the module docstring; the returned process is the guard, whose pid
            is the group's id and whose exit status is the command's).
        leader_dies_with_parent: only the leader gets SIGKILL when this process's starting thread
            dies (``PR_SET_PDEATHSIG`` in the child; no guard process).

    Raises:
        OSError: the program cannot be started (with the guard: the guard cannot; a command the
            guard cannot start exits 127 with a ``cannot start`` line on stderr).
    """
    argv = list(argv)
    if die_with_parent:
        argv = [sys.executable, "-I", "-S", "-c", _GUARD, str(os.getpid()), repr(GUARD_GRACE), "--", *argv]
    return subprocess.Popen(argv, cwd=cwd, env=dict(env) if env is not None else None, stdin=stdin,
                            stdout=stdout, stderr=stderr, close_fds=close_fds,
                            start_new_session=session, process_group=None if session else 0,
                            preexec_fn=_pdeathsig_kill if leader_dies_with_parent else None)


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; False if there is no such group or it is another user's."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False
    except OSError:
        return False


def end_group(proc: subprocess.Popen, grace: float = DEFAULT_GRACE, kill_wait: float = 5.0) -> None:
    """End the group led by ``proc`` (started by :func:`start`): SIGTERM to the whole group, then
    SIGKILL to it after ``grace`` seconds unless every process of the group has exited by then
    (where ``/proc`` is absent: unless the leader has); waits up to ``kill_wait`` seconds for the
    leader after SIGKILL. ``grace`` 0 sends SIGKILL at once. Never raises for a group already gone."""
    pgid = proc.pid
    if grace > 0:
        if not signal_group(pgid, signal.SIGTERM):
            proc.poll()
            return
        limit = time.monotonic() + grace
        while True:
            if proc.poll() is not None and not (_HAS_PROC and processes_in_group(pgid)):
                return
            if time.monotonic() >= limit:
                break
            time.sleep(0.02)
    signal_group(pgid, signal.SIGKILL)
    try:
        proc.wait(timeout=kill_wait)
    except subprocess.TimeoutExpired:
        pass


#: How :func:`wait` returned: the process exited, ran past its timeout, or the cancel was set.
EXITED, TIMED_OUT, CANCELLED = "exited", "timed out", "cancelled"


@dataclass(frozen=True)
class Waited:
    """What :func:`wait` saw.

    Attributes:
        how: :data:`EXITED`, :data:`TIMED_OUT` or :data:`CANCELLED`.
        reason: for a stop asked by ``on_tick``, the reason it gave ("" otherwise).
        seconds: wall time since ``started``.
    """

    how: str
    reason: str = ""
    seconds: float = 0.0


def wait(proc: subprocess.Popen, *, timeout: float | None, cancel: threading.Event | None = None,
         tick: float = 0.1, on_tick: Callable[[], str | None] | None = None, grace: float = DEFAULT_GRACE,
         started: float | None = None) -> Waited:
    """Wait for ``proc`` to exit, ending its group (:func:`end_group`) on a timeout, a cancel or a stop.

    Args:
        timeout: seconds from ``started`` (default: now) the process may run; None: no limit.
        cancel: when set (checked every ``tick`` seconds), the group is ended: :data:`CANCELLED`.
        tick: seconds between checks of ``cancel`` and ``on_tick``.
        on_tick: called every ``tick`` seconds while it runs; a non-empty string ends the group
            and is returned as the reason (:data:`CANCELLED`).
        grace: seconds between SIGTERM and SIGKILL.
        started: ``time.monotonic()`` when the process started.

    Returns:
        A :class:`Waited`; ``proc.returncode`` holds the exit status once it has ended.
    """
    started = time.monotonic() if started is None else started
    while True:
        now = time.monotonic()
        left = None if timeout is None else timeout - (now - started)
        step = tick if left is None else max(0.0, min(tick, left))
        try:
            proc.wait(timeout=step)
            return Waited(EXITED, seconds=time.monotonic() - started)
        except subprocess.TimeoutExpired:
            pass
        if timeout is not None and time.monotonic() - started >= timeout:
            end_group(proc, grace)
            return Waited(TIMED_OUT, seconds=time.monotonic() - started)
        if cancel is not None and cancel.is_set():
            end_group(proc, grace)
            return Waited(CANCELLED, seconds=time.monotonic() - started)
        why = on_tick() if on_tick is not None else None
        if why:
            end_group(proc, grace)
            return Waited(CANCELLED, reason=why, seconds=time.monotonic() - started)


# --- pid identity -------------------------------------------------------------------------------


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


def processes_in_group(pgid: int) -> list[int]:
    """Return the pids of the live (not zombie) processes of group ``pgid`` (field 5 of
    ``/proc/<pid>/stat``); [] where ``/proc`` is absent."""
    out = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for n in names:
        if not n.isdigit():
            continue
        fields = _stat_fields(int(n))
        try:
            if fields is not None and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
                out.append(int(n))
        except (ValueError, IndexError):
            continue
    return out


def process_cwd(pid: int) -> str | None:
    """Return process ``pid``'s working directory (``/proc/<pid>/cwd``, resolved), or None."""
    try:
        return os.path.realpath(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def kill_group_in(pgid: int, root: str | os.PathLike[str]) -> bool:
    """SIGKILL process group ``pgid`` if one of its processes works inside directory ``root``
    (a recorded group id is trusted only there: group ids are reused). Returns True if it did."""
    root = os.path.realpath(root)
    for pid in processes_in_group(pgid):
        cwd = process_cwd(pid)
        if cwd is not None and (cwd == root or cwd.startswith(root + os.sep)):
            return signal_group(pgid, signal.SIGKILL)
    return False


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


def _signal_leader(pid: int, sig: int) -> bool:
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
    """End process ``pid`` (not necessarily our child) and its process group: SIGTERM, then
    SIGKILL after ``grace`` seconds.

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
    if not _signal_leader(pid, signal.SIGTERM):
        return False
    limit = time.monotonic() + grace
    while time.monotonic() < limit:
        if not _same_process(pid, start):
            return True
        time.sleep(0.05)
    if _same_process(pid, start):
        _signal_leader(pid, signal.SIGKILL)
    limit = time.monotonic() + 2.0
    while time.monotonic() < limit and _same_process(pid, start):
        time.sleep(0.05)
    return True
