"""Helpers for the inbox, team and protocol tests, and the worker processes of the concurrency tests.

Import from a test module with ``from tests.helpers.inbox_helpers import ...``.

Run as a script, this file is one worker process of the exactly-once tests
(long-lived: one repository handle, many transactions)::

    python inbox_helpers.py send REPO SENDER TO COUNT
        send COUNT messages to TO with ids SENDER-0000, SENDER-0001, ...
    python inbox_helpers.py drain REPO NAME STOPFILE OUTFILE
        drain NAME's inbox in a loop, appending one JSON line per drained
        message ({"id", "from", "content"}) to OUTFILE; once STOPFILE exists,
        drain until empty and exit.
    python inbox_helpers.py answer REPO NAME APPROVE REASON
        wait for a shutdown_request in NAME's inbox and answer it (APPROVE: 1/0).

Every worker goes through :func:`gitboard.store.transact.transact`, exactly
like the CLI and the teammate runtime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()

#: A fixed "now" for pure-operation tests (2026-01-02T03:04:05Z).
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def new_id() -> str:
    """A fresh uuid4 hex id, as the CLI makes them."""
    return uuid.uuid4().hex


def empty_board(team_name: str = "test", members: tuple[tuple[str, str | None], ...] = ()):
    """A pure :class:`Board` (no git) with a roster of (name, role) members."""
    from gitboard.board.snapshot import build
    from gitboard.board.roster import CONFIG_PATH, Member, Team

    team = Team(team_name=team_name, members=tuple(Member(name=n, role=r) for n, r in members))
    return build("0" * 40, {CONFIG_PATH: team.to_json()})


def apply(board, change):
    """Return the pure board after ``change`` (a Change): its writes applied to the snapshot's files.

    This mirrors what a commit does to the tree, for pure tests of sequences of operations.
    """
    from gitboard.board.change import NoChange
    from gitboard.board.snapshot import build
    from gitboard.board.task import task_path
    from gitboard.board.roster import CONFIG_PATH

    if isinstance(change, NoChange):
        return board
    files: dict[str, Any] = {task_path(t.id): t.to_json() for t in board.tasks.values()}
    files[CONFIG_PATH] = board.team.to_json()
    files.update(board.docs)
    for path, data in change.writes.items():
        if data is None:
            files.pop(path, None)
        else:
            files[path] = json.loads(data)
    return build(board.tip, files)


def open_board_repo(path: Path | str):
    """Open a :class:`BoardRepo` at ``path``."""
    from gitboard.store.repo import BoardRepo

    return BoardRepo(path)


def run_op(path: Path | str, op, **params):
    """Run ``transact(repo, partial(op, **params))`` on the repository at ``path`` and return the result."""
    from gitboard.store.transact import transact

    with open_board_repo(path) as repo:
        return transact(repo, partial(op, **params))


def read(path: Path | str, fresh: bool = True):
    """Return the current board snapshot of the repository at ``path``."""
    from gitboard.store.read import read_board

    with open_board_repo(path) as repo:
        return read_board(repo, fresh=fresh)


def spawn_worker(*args: Any, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``python inbox_helpers.py ARGS...`` as a separate OS process."""
    return subprocess.Popen([sys.executable, str(HERE), *map(str, args)], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen, timeout: float = 120) -> str:
    """Wait for a worker; fail with its stderr unless it exited 0. Returns its stdout."""
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"worker {proc.args[2:]} exited {proc.returncode}:\n{err.decode(errors='replace')}")
    return out.decode()


# -- worker processes ---------------------------------------------------------

def _send_worker(repo_path: str, sender: str, to: str, count: int) -> None:
    from gitboard.board.inbox_ops import send
    from gitboard.store.transact import transact

    with open_board_repo(repo_path) as repo:
        for i in range(count):
            transact(repo, partial(send, sender=sender, to=to, content=f"{sender} #{i}", msg_id=f"{sender}-{i:04d}"))


def _drain_worker(repo_path: str, name: str, stopfile: str, outfile: str) -> None:
    from gitboard.board.inbox_ops import drain
    from gitboard.store.transact import transact

    with open_board_repo(repo_path) as repo, open(outfile, "a", encoding="utf-8") as out:
        stopping = False
        while True:
            stopping = stopping or os.path.exists(stopfile)
            msgs = transact(repo, partial(drain, name=name))
            for m in msgs:
                out.write(json.dumps({"id": m.id, "from": m.from_, "content": m.content}) + "\n")
            out.flush()
            if stopping and not msgs:
                return
            if not msgs:
                time.sleep(0.01)


def _answer_worker(repo_path: str, name: str, approve: str, reason: str) -> None:
    from gitboard.board.inbox_ops import drain
    from gitboard.board.protocol_ops import respond_shutdown
    from gitboard.store.transact import transact

    with open_board_repo(repo_path) as repo:
        limit = time.monotonic() + 60
        while time.monotonic() < limit:
            for m in transact(repo, partial(drain, name=name)):
                if m.type == "shutdown_request":
                    transact(repo, partial(respond_shutdown, sender=name, request_id=m.request_id,
                                           approve=approve == "1", reason=reason, msg_id=new_id()))
                    return
            time.sleep(0.05)
    raise SystemExit("no shutdown_request arrived")


if __name__ == "__main__":
    cmd, *rest = sys.argv[1:]
    if cmd == "send":
        _send_worker(rest[0], rest[1], rest[2], int(rest[3]))
    elif cmd == "drain":
        _drain_worker(*rest)
    elif cmd == "answer":
        _answer_worker(*rest)
    else:
        raise SystemExit(f"unknown worker command {cmd!r}")
