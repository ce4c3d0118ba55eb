"""Backup refs: where a task branch's commits go before the runtime replaces the branch.

A teammate's local ``task/<id>`` can disagree with the branch everyone else sees: a
teammate killed in this clone committed there, then another clone took the task over and
pushed its own ``task/<id>``; or the remote refused the push of a finished task because
its branch had moved on. The runtime then replaces the local branch with the remote's
(:func:`gitboard.runtime.worktree.prepare`), or fails the task (:mod:`gitboard.runtime.work`);
before that, nothing is thrown away -- the local commits, and any uncommitted files left
in the task's worktree, are kept under::

    refs/gitboard/backup/task/<id>/<UTC YYYYmmddTHHMMSSZ>-<first 12 hex digits of the commit>

and the ref is named in the teammate's log. It is an ordinary ref of this clone (never
pushed, kept by ``git gc``); ``git log <ref>`` shows the work, ``git update-ref -d <ref>``
drops it.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from gitboard.board.errors import GitFailure
from gitboard.store import git as gitcmd
from gitboard.store.repo import BoardRepo

#: Namespace of the backup refs (see the module docstring).
BACKUP_PREFIX = "refs/gitboard/backup"

#: Options that keep these commits independent of user settings (signing).
_NO_SIGN = ("-c", "commit.gpgsign=false")


def backup_ref_name(task_id: int, commit: str, now: float | None = None) -> str:
    """Return ``refs/gitboard/backup/task/<id>/<UTC stamp>-<commit[:12]>`` (``now``: seconds since the epoch)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return f"{BACKUP_PREFIX}/task/{task_id}/{stamp}-{commit[:12]}"


def backups(repo: BoardRepo, task_id: int) -> list[str]:
    """Return the backup refs of task ``task_id`` in this clone, oldest first (by name: the stamp sorts)."""
    res = repo.git("for-each-ref", "--format=%(refname)", f"{BACKUP_PREFIX}/task/{task_id}/", check=False)
    return sorted(line for line in res.stdout.decode(errors="replace").splitlines() if line)


def snapshot(worktree: Path, head: str, env: dict[str, str], message: str) -> str:
    """Return a commit holding ``worktree``'s files as they are (tracked and untracked, ``.gitignore``
    honoured), with ``head`` as parent; ``head`` itself when nothing differs from it.

    Uses a private index (the worktree's own index and any ``index.lock`` stay untouched) and
    moves no ref. A merge left half-way is snapshotted with its conflict markers.

    Raises:
        GitFailure: git refused (a broken worktree ...).
    """
    cwd = str(worktree)
    git_dir = gitcmd.run(cwd, ["rev-parse", "--absolute-git-dir"]).stdout.decode().strip()
    fd, index = tempfile.mkstemp(prefix="backup-index-", dir=git_dir)
    os.close(fd)
    os.unlink(index)  # git wants to create it itself
    ienv = {**env, "GIT_INDEX_FILE": index}
    try:
        gitcmd.run(cwd, ["read-tree", head], env=ienv)
        gitcmd.run(cwd, ["add", "-A"], env=ienv)
        tree = gitcmd.run(cwd, ["write-tree"], env=ienv).stdout.decode().strip()
        if tree == gitcmd.run(cwd, ["rev-parse", f"{head}^{{tree}}"]).stdout.decode().strip():
            return head
        return gitcmd.run(cwd, [*_NO_SIGN, "commit-tree", tree, "-p", head, "-F", "-"], input=message.encode(),
                          env=env).stdout.decode().strip()
    finally:
        for leftover in (index, index + ".lock"):
            try:
                os.unlink(leftover)
            except OSError:
                pass


def keep(repo: BoardRepo, task_id: int, tip: str, *, actor: str, worktree: Path | None = None) -> str:
    """Keep ``tip`` -- and, when ``worktree`` is given, the uncommitted files there on top of its
    ``HEAD`` -- under a new backup ref (:func:`backup_ref_name`); return the ref's name.

    A worktree whose snapshot cannot be taken (broken, gone) is skipped: ``tip`` is kept alone.

    Raises:
        GitFailure: git cannot write the ref.
    """
    env = repo.identity_env(actor)
    kept = tip
    if worktree is not None and worktree.is_dir():
        head = gitcmd.run(str(worktree), ["rev-parse", "-q", "--verify", "HEAD"], check=False)
        if head.status == 0:
            try:
                kept = snapshot(worktree, head.stdout.decode().strip(), env,
                                f"task #{task_id}: files left uncommitted in {worktree}\n\nGitboard-Task: {task_id}\n"
                                f"Gitboard-Actor: {actor}\n")
            except GitFailure:
                kept = tip
    ref = backup_ref_name(task_id, kept)
    n = 1
    while repo.resolve(ref):  # two backups in one second
        n += 1
        ref = backup_ref_name(task_id, kept) + f"-{n}"
    repo.git("update-ref", "-m", f"gitboard: backup of task/{task_id} by {actor}", ref, kept, "0" * 40)
    return ref
