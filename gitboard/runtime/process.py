"""Teammate processes: ``gitboard spawn`` (detached), pid and log files, ``gitboard logs``.

A spawned teammate is ``python -m gitboard -C <repo> work NAME [options]``:

- in its own session (:func:`gitboard.proc.start`), so it leads its process group
  and outlives the shell that spawned it;
- stdout and stderr appended to ``<git-common-dir>/gitboard/logs/<name>.log``;
- its pid in ``<git-common-dir>/gitboard/pids/<name>.pid`` (``"<pid> <start>\n"``,
  ``start`` being the process start time, :func:`gitboard.proc.process_start`)
  and on the board (the member's ``host`` and ``pid``, status ``working``);
- with ``GITBOARD_ACTOR=NAME``, so any ``gitboard`` command it runs acts as it.

Spawning a name whose process is alive and working exits 3 (Conflict); a name
that is idle or shut down is restarted (a live idle process is ended first).

A recorded pid is trusted, and signalled, only after its identity is checked
(:func:`gitboard.proc.teammate_alive`: the start time recorded in the pid
file, else the command line ``gitboard ... work ... NAME``), so a stale pid file
or roster entry whose pid now belongs to another program is ignored.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any, Sequence

from gitboard.board.errors import Conflict, Invalid, NotFound
from gitboard.board.names import LEAD, check_name
from gitboard.board.roster import Member
from gitboard.board.roster_ops import WORKING, set_member
from gitboard import proc as processes
from gitboard.board.text import safe
from gitboard.proc import end_process_group, process_start, teammate_alive, this_host
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo
from gitboard.client import BoardClient


def log_path(repo: BoardRepo, name: str) -> Path:
    """Return ``<git-common-dir>/gitboard/logs/<name>.log``."""
    return repo.state_dir("logs") / f"{name}.log"


def pid_path(repo: BoardRepo, name: str) -> Path:
    """Return ``<git-common-dir>/gitboard/pids/<name>.pid``."""
    return repo.state_dir("pids") / f"{name}.pid"


def read_pid_record(repo: BoardRepo, name: str) -> tuple[int, int | None] | None:
    """Return ``(pid, start)`` recorded for ``name`` in this clone (``start``: the process start
    time, None in a file written before it was recorded), or None if there is no readable record."""
    try:
        fields = pid_path(repo, name).read_text().split()
        pid = int(fields[0])
        start = int(fields[1]) if len(fields) > 1 else None
    except (OSError, ValueError, IndexError):
        return None
    return (pid, start) if pid > 0 else None


def read_pid(repo: BoardRepo, name: str) -> int | None:
    """Return the pid recorded for ``name`` in this clone, or None."""
    record = read_pid_record(repo, name)
    return record[0] if record else None


def write_pid(repo: BoardRepo, name: str, pid: int) -> None:
    """Record ``pid`` and its start time (:func:`process_start`, if known) for ``name``, atomically."""
    path = pid_path(repo, name)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    start = process_start(pid)
    tmp.write_text(f"{pid}\n" if start is None else f"{pid} {start}\n")
    os.replace(tmp, path)


def clear_pid(repo: BoardRepo, name: str, pid: int) -> None:
    """Remove ``name``'s pid file if it still records ``pid``."""
    if read_pid(repo, name) == pid:
        try:
            pid_path(repo, name).unlink()
        except OSError:
            pass


def live_process(repo: BoardRepo, name: str, member: Member | None,
                 me: int | None = None) -> tuple[int, int | None] | None:
    """Return ``(pid, start)`` of ``name``'s live process on this host, or None.

    Candidates are the pid file's pid (checked against its recorded start time) and the
    roster's pid when the member's host is this one (checked against the pid file's start
    time if the file records the same pid, else by its command line); see
    :func:`gitboard.proc.teammate_alive`. ``me`` (the calling teammate's own pid)
    does not count. ``start`` is the process's start time (None where unknown).
    """
    record = read_pid_record(repo, name)
    candidates: list[tuple[int, int | None]] = []
    if record is not None:
        candidates.append(record)
    if member is not None and member.host == this_host() and isinstance(member.pid, int) and member.pid > 0:
        if record is None or record[0] != member.pid:
            candidates.append((member.pid, None))
    for pid, start in candidates:
        if pid != me and teammate_alive(pid, name, start):
            return pid, start if start is not None else process_start(pid)
    return None


def member_alive(repo: BoardRepo, member: Member) -> bool:
    """True if ``member``'s roster pid is, on this host, a live process of that teammate
    (identity checked as in :func:`live_process`). False for a member of another host."""
    if member.host != this_host() or not isinstance(member.pid, int) or member.pid <= 0:
        return False
    record = read_pid_record(repo, member.name)
    start = record[1] if record is not None and record[0] == member.pid else None
    return teammate_alive(member.pid, member.name, start)


def roster_json(repo: BoardRepo, board: Any) -> dict:
    """Return the ``gitboard team --json`` document of ``board``'s roster: config.json's object with
    each status as :func:`gitboard.board.roster_ops.shown_status` shows it (``dead`` for a member
    whose recorded process on this host is no longer that teammate: pids are reused)."""
    from gitboard.board import roster_ops

    by_pid: dict[int, list] = {}
    for m in board.team.members:
        if isinstance(m.pid, int):
            by_pid.setdefault(m.pid, []).append(m)
    alive_pids = {pid for pid, ms in by_pid.items() if any(member_alive(repo, m) for m in ms)}
    return roster_ops.roster_json(board.team, host=this_host(), alive=lambda pid: pid in alive_pids)


def check_name_for_teammate(name: str) -> str:
    """Return ``name`` if it may be a teammate: a valid name other than ``lead`` (the human's).

    Raises:
        Invalid: a bad name, or ``lead``.
    """
    check_name(name)
    if name == LEAD:
        raise Invalid(f"{LEAD!r} is the human lead's name and cannot be a teammate's; pick another name")
    return name


def check_can_start(repo: BoardRepo, name: str, *, restart_idle: bool, me: int | None = None) -> Member | None:
    """Refuse to start ``name`` if it is working; end a live idle process of it when ``restart_idle``.

    ``me`` is the pid of the process that will be ``name`` (``gitboard work`` passes its own).
    A recorded pid whose process is gone, or is now another program, is ignored (and
    never signalled). Returns the member's roster entry (None if not on the roster).

    Raises:
        Conflict: ``name`` is working -- a live process here, or status working on another host.
    """
    board = read_board(repo)
    member = board.team.member(name)
    found = live_process(repo, name, member, me)
    if found is not None:
        pid, start = found
        if member is not None and member.status == WORKING:
            raise Conflict(f"{name} is working (pid {pid} on {this_host()}); stop it first with 'gitboard stop {name}'")
        if not restart_idle:
            raise Conflict(f"{name} is already running (pid {pid}); stop it first with 'gitboard stop {name}'")
        end_process_group(pid, start=start)
    elif member is not None and member.status == WORKING and member.host and member.host != this_host():
        raise Conflict(f"{name} is working on {member.host} (pid {member.pid}); "
                       f"stop it there, or 'gitboard stop {name}'")
    return member


@dataclass(frozen=True)
class Spawned:
    """A spawned teammate: its ``pid``, ``log`` file and the ``argv`` it runs."""

    pid: int
    log: Path
    argv: list[str]


def _register(board, now, *, name: str, pid: int, host: str, role: str | None):
    """Set ``name`` working with ``pid`` on ``host`` -- unless the new process already wrote its own status."""
    member = board.team.member(name)
    if member is not None and member.pid == pid and member.host == host:
        from gitboard.board.change import NoChange

        return NoChange(member)
    return set_member(board, now, actor=name, name=name, status=WORKING, task=None, host=host, pid=pid, role=role)


def work_argv(repo_dir: str, name: str, options: Sequence[str]) -> list[str]:
    """Return the command line of a teammate process: ``python -m gitboard -C DIR work NAME OPTIONS``."""
    return [sys.executable, "-m", "gitboard", "-C", repo_dir, "work", name, *options]


def spawn(repo: BoardRepo, name: str, options: Sequence[str], *, role: str | None = None,
          env: dict[str, str] | None = None) -> Spawned:
    """Start ``gitboard work NAME OPTIONS`` detached and register it on the board; return at once.

    Args:
        repo: the clone the teammate works in.
        name: the teammate.
        options: ``work`` options (``--agent shell``, ``--poll 5`` ...), already validated.
        role: recorded on the roster with the member.
        env: extra environment for the process.

    If registering fails (the remote rejects the board push, is unreachable, or the
    spawner is interrupted), the new process group is ended and its pid file cleared
    before the error propagates: an error from ``spawn`` never leaves a teammate running.

    Raises:
        Invalid: a bad name, or ``lead``. Conflict: the name is working.
        GitFailure, Busy: no board, or the remote is unreachable or refused the registration.
    """
    check_name_for_teammate(name)
    check_can_start(repo, name, restart_idle=True)
    log = log_path(repo, name)
    root = repo.work_dir or repo.git_dir
    argv = work_argv(root, name, options)
    child_env = {**os.environ, **(env or {}), "GITBOARD_ACTOR": name, "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:
        out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} spawn {name}: {' '.join(argv[3:])}\n".encode())
        out.flush()
        proc = processes.start(argv, cwd=root, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                               env=child_env)
    try:
        write_pid(repo, name, proc.pid)
        BoardClient(repo.cwd, name).apply(partial(_register, name=name, pid=proc.pid, host=this_host(), role=role), repo=repo)
    except BaseException:
        _undo_spawn(repo, name, proc)
        raise
    return Spawned(proc.pid, log, argv)


def _undo_spawn(repo: BoardRepo, name: str, proc: subprocess.Popen) -> None:
    """End a just-started teammate whose registration failed: its process group (SIGTERM, then
    SIGKILL), its pid file, and the zombie it leaves (it is our child)."""
    try:
        end_process_group(proc.pid, grace=5.0)
    finally:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        clear_pid(repo, name, proc.pid)


def show_log(repo: BoardRepo, name: str, out: IO[str], follow: bool = False, interval: float = 0.2) -> None:
    """Copy ``name``'s log to ``out`` (control characters escaped, newlines and tabs kept); with ``follow``, keep copying new lines until the
    teammate's process has exited (or the reader is interrupted). The process is the pid
    file's, identity checked (:func:`gitboard.proc.teammate_alive`): a stale pid
    file whose pid now belongs to another program ends the follow.

    Raises:
        Invalid: a bad name. NotFound: no log for ``name`` in this clone.
    """
    check_name(name)
    path = log_path(repo, name)
    if not path.exists():
        raise NotFound(f"no log for {name} in this clone ({path}); spawn it with 'gitboard spawn {name}'")
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        while True:
            chunk = f.read()
            if chunk:
                out.write(safe(chunk, multiline=True))
                out.flush()
            if not follow:
                return
            record = read_pid_record(repo, name)
            if not chunk and (record is None or not teammate_alive(record[0], name, record[1])):
                rest = f.read()
                if rest:
                    out.write(safe(rest, multiline=True))
                    out.flush()
                return
            time.sleep(interval)
