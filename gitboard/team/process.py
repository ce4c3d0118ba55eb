"""Teammate processes: ``gitboard spawn`` (detached), pid and log files, ``gitboard logs``.

A spawned teammate is ``python -m gitboard -C <repo> work NAME [options]``:

- in its own session (``start_new_session``), so it leads its process group
  and outlives the shell that spawned it;
- stdout and stderr appended to ``<git-common-dir>/gitboard/logs/<name>.log``;
- its pid in ``<git-common-dir>/gitboard/pids/<name>.pid`` and on the board
  (the member's ``host`` and ``pid``, status ``working``);
- with ``GITBOARD_ACTOR=NAME``, so any ``gitboard`` command it runs acts as it.

Spawning a name whose process is alive and working exits 3 (Conflict); a name
that is idle or shut down is restarted (a live idle process is ended first).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Sequence

from gitboard.board.errors import Conflict, NotFound
from gitboard.board.names import check_name
from gitboard.board.team import Member
from gitboard.board.team_ops import WORKING, set_member
from gitboard.store.host import end_process_group, pid_alive, this_host
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact


def log_path(repo: BoardRepo, name: str) -> Path:
    """Return ``<git-common-dir>/gitboard/logs/<name>.log``."""
    return repo.state_dir("logs") / f"{name}.log"


def pid_path(repo: BoardRepo, name: str) -> Path:
    """Return ``<git-common-dir>/gitboard/pids/<name>.pid``."""
    return repo.state_dir("pids") / f"{name}.pid"


def read_pid(repo: BoardRepo, name: str) -> int | None:
    """Return the pid recorded for ``name`` in this clone, or None."""
    try:
        return int(pid_path(repo, name).read_text().strip())
    except (OSError, ValueError):
        return None


def write_pid(repo: BoardRepo, name: str, pid: int) -> None:
    """Record ``pid`` for ``name`` (atomically)."""
    path = pid_path(repo, name)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(f"{pid}\n")
    os.replace(tmp, path)


def clear_pid(repo: BoardRepo, name: str, pid: int) -> None:
    """Remove ``name``'s pid file if it still records ``pid``."""
    if read_pid(repo, name) == pid:
        try:
            pid_path(repo, name).unlink()
        except OSError:
            pass


def live_pid(repo: BoardRepo, name: str, member: Member | None, me: int | None = None) -> int | None:
    """Return the pid of ``name``'s live process on this host (pid file or roster), or None;
    ``me`` (the calling teammate's own pid) does not count."""
    for pid in (read_pid(repo, name), member.pid if member and member.host == this_host() else None):
        if pid and pid != me and pid_alive(pid):
            return pid
    return None


def check_can_start(repo: BoardRepo, name: str, *, restart_idle: bool, me: int | None = None) -> Member | None:
    """Refuse to start ``name`` if it is working; end a live idle process of it when ``restart_idle``.

    ``me`` is the pid of the process that will be ``name`` (``gitboard work`` passes its own).
    Returns the member's roster entry (None if not on the roster).

    Raises:
        Conflict: ``name`` is working -- a live process here, or status working on another host.
    """
    board = read_board(repo)
    member = board.team.member(name)
    pid = live_pid(repo, name, member, me)
    if pid is not None:
        if member is not None and member.status == WORKING:
            raise Conflict(f"{name} is working (pid {pid} on {this_host()}); stop it first with 'gitboard stop {name}'")
        if not restart_idle:
            raise Conflict(f"{name} is already running (pid {pid}); stop it first with 'gitboard stop {name}'")
        end_process_group(pid)
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

    Raises:
        Invalid: a bad name. Conflict: the name is working.
        GitFailure: no board, or the remote is unreachable.
    """
    check_name(name)
    check_can_start(repo, name, restart_idle=True)
    log = log_path(repo, name)
    root = repo.work_dir or repo.git_dir
    argv = work_argv(root, name, options)
    child_env = {**os.environ, **(env or {}), "GITBOARD_ACTOR": name, "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:
        out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} spawn {name}: {' '.join(argv[3:])}\n".encode())
        out.flush()
        proc = subprocess.Popen(argv, cwd=root, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=child_env, start_new_session=True, close_fds=True)
    write_pid(repo, name, proc.pid)
    transact(repo, partial(_register, name=name, pid=proc.pid, host=this_host(), role=role))
    return Spawned(proc.pid, log, argv)


def show_log(repo: BoardRepo, name: str, out: IO[str], follow: bool = False, interval: float = 0.2) -> None:
    """Copy ``name``'s log to ``out``; with ``follow``, keep copying new lines until the
    teammate's process has exited (or the reader is interrupted).

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
                out.write(chunk)
                out.flush()
            if not follow:
                return
            pid = read_pid(repo, name)
            if not chunk and (pid is None or not pid_alive(pid)):
                rest = f.read()
                if rest:
                    out.write(rest)
                    out.flush()
                return
            time.sleep(interval)
