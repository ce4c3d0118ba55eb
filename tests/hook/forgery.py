"""Forging board commits with plain git plumbing, for the hook's tests: canonical bytes (as gitboard
writes them) unless a test wants otherwise, so that each forgery breaks exactly the rule it targets."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gitboard.board.clock import iso
from gitboard.board.snapshot import Board
from gitboard.board.task import Task
from gitboard.store.read import load_board
from gitboard.store.repo import BoardRepo
from tests.conftest import TEST_IDENT


def g(path: Path, *args: str, input: bytes | None = None, env: dict | None = None) -> str:
    p = subprocess.run(["git", *TEST_IDENT, *args], cwd=path, input=input, capture_output=True,
                       env={**os.environ, **(env or {})})
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode().strip()


def board_at(path: Path, commit: str) -> Board:
    """The board at ``commit`` in the repository at ``path`` (no fetch)."""
    with BoardRepo(path) as r:
        return load_board(r, commit)[0]


def forge(path: Path, parent: str, files: dict[str, bytes | None], message: str, *,
          date: datetime | None = None) -> str:
    """A commit on ``parent`` with ``files`` changed (path -> bytes, None deletes), made with
    plumbing and a temporary index; ``date`` sets its author and committer dates. No ref moves."""
    env = {"GIT_INDEX_FILE": str(path / ".git" / f"forge-index-{os.getpid()}")}
    if date is not None:
        stamp = f"{int(date.timestamp())} +0000"
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    g(path, "read-tree", parent, env=env)
    for name, data in files.items():
        if data is None:
            g(path, "update-index", "--force-remove", name, env=env)
        else:
            blob = g(path, "hash-object", "-w", "--stdin", input=data)
            g(path, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
    tree = g(path, "write-tree", env=env)
    Path(env["GIT_INDEX_FILE"]).unlink()
    return g(path, "commit-tree", tree, "-p", parent, "-m", message, env=env)


def trailers(action: str, actor: str, task: int | None = None, *extra: tuple[str, str]) -> str:
    lines = [f"Gitboard-Action: {action}"] + ([f"Gitboard-Task: {task}"] if task else [])
    lines += [f"{k}: {v}" for k, v in extra] + [f"Gitboard-Actor: {actor}"]
    return f"forged {action}\n\n" + "\n".join(lines) + "\n"


def claimed(b: Board, tid: int, actor: str, lease: float = 3600, now: datetime | None = None) -> tuple[str, bytes]:
    """Task ``tid`` of ``b`` claimed by ``actor`` (canonical bytes): (path, bytes)."""
    now = now or datetime.now(timezone.utc)
    t: Task = b.tasks[tid].evolve(status="in_progress", owner=actor, claimed_at=iso(now),
                                  lease_expires_at=iso(now + timedelta(seconds=lease)), updated_at=iso(now))
    return b.path_of_task(tid), t.to_bytes()


def claim_commit(path: Path, parent: str, tid: int, actor: str, **kw) -> str:
    """A claim of task ``tid`` by ``actor`` on ``parent``, made by hand (legal unless the task is taken)."""
    return forge(path, parent, dict([claimed(board_at(path, parent), tid, actor, **kw)]),
                 trailers("claim", actor, tid), date=kw.get("now"))
