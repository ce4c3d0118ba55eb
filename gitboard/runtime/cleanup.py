"""Clearing what this clone's dead teammate runs left behind: worktrees, pgid files, task branches.

A teammate killed mid-task (SIGKILL, a crash, a reboot) leaves its task worktree
(``task-<id>``, :mod:`gitboard.runtime.worktree`), the ``pids/task-<id>.pgid`` file of the
command it ran, and the local ``task/<id>`` branch. While the task is still its own,
they are its work so far, and a restart (or a takeover in this clone) continues there.
Once the task has moved on without this clone, they are leftovers: the worktree keeps
``task/<id>`` checked out, and a later claim here would continue from stale work.

A task worktree of this clone is **left by a dead run** when no live teammate of this
clone has the task (as its roster task, or as the task's owner) and the board says
the task moved on: it is gone from the board, it is ``merged``, or its owner is not a
teammate of this clone (no ``pids/<name>.pid`` here: another clone took it over, or a
person claimed it). :func:`clean_dead_runs` then, for each such task:

1. saves its work: the worktree's files, uncommitted and untracked ones included, as a
   commit on top of its ``HEAD``, kept by :func:`gitboard.runtime.backup.keep` under
   ``refs/gitboard/backup/task/<id>/<UTC time>-<commit>`` (named in the log); with nothing uncommitted, the branch tip is saved there when the
   remote's ``task/<id>`` does not contain it;
2. kills a command left running in the worktree (its recorded process group) and
   removes the ``pgid`` file;
3. removes the worktree;
4. in remote mode, deletes the local ``task/<id>`` branch (the remote's copy is the
   task's; the local tip was saved in step 1 if the remote lacks it).

A failed task's worktree that its result names (``result.worktree``: work that could not
be committed, kept on purpose) is left alone. A ``pgid`` file whose task has no worktree
here and whose process group is gone is removed too. The teammate loop runs this when it starts and every
:data:`CLEAN_INTERVAL` seconds while idle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from gitboard import proc as processes
from gitboard.board.errors import BoardError
from gitboard.board.snapshot import Board
from gitboard.board.task import MERGED
from gitboard.store import git as gitcmd
from gitboard.store.merge import fetch_branch
from gitboard.store.repo import BoardRepo
from gitboard.runtime import backup
from gitboard.runtime.process import read_pid_record
from gitboard.runtime.worktree import (WorktreeError, branch_name, checkouts, kill_leftover,
                                    legacy_worktree_path, remove, worktrees_dir)

#: Seconds between two clean-ups by an idle teammate.
CLEAN_INTERVAL = 600.0


@dataclass
class Cleaned:
    """What :func:`clean_dead_runs` did.

    Attributes:
        removed: task id -> the worktree directory removed.
        saved: task id -> the ref the work was saved under.
        branches: task ids whose local ``task/<id>`` branch was deleted.
        pgid_files: the ``pgid`` files removed.
    """

    removed: dict[int, Path] = field(default_factory=dict)
    saved: dict[int, str] = field(default_factory=dict)
    branches: list[int] = field(default_factory=list)
    pgid_files: list[Path] = field(default_factory=list)


def clone_teammates(repo: BoardRepo) -> tuple[set[str], set[str]]:
    """Return ``(teammates, live)``: the names with a pid file in this clone
    (``pids/<name>.pid``), and those among them whose process is alive (identity checked,
    :func:`gitboard.proc.teammate_alive`)."""
    names: set[str] = set()
    live: set[str] = set()
    try:
        entries = list(Path(repo.common_dir, "gitboard", "pids").iterdir())
    except OSError:
        return names, live
    for entry in entries:
        if entry.suffix != ".pid":
            continue
        name = entry.stem
        names.add(name)
        record = read_pid_record(repo, name)
        if record is not None and processes.teammate_alive(record[0], name, record[1]):
            live.add(name)
    return names, live


def _task_worktrees(repo: BoardRepo) -> dict[int, Path]:
    """This clone's task worktrees: task id -> directory (the new location and the legacy one)."""
    found: dict[int, Path] = {}
    for branch, paths in checkouts(repo, own=True).items():
        if not branch.startswith("task/") or not branch[5:].isdigit():
            continue
        tid = int(branch[5:])
        try:
            own = {os.path.realpath(worktrees_dir(repo, create=False) / f"task-{tid}")}
        except WorktreeError:
            own = set()
        own.add(os.path.realpath(legacy_worktree_path(repo, tid)))
        for p in paths:
            if os.path.realpath(p) in own:
                found[tid] = p
    return found


def _moved_on(board: Board, tid: int, path: Path, teammates: set[str]) -> bool:
    task = board.tasks.get(tid)
    if task is None or task.status == MERGED:
        return True
    kept = task.result.get("worktree") if isinstance(task.result, dict) else None
    if isinstance(kept, str) and os.path.realpath(kept) == os.path.realpath(path):
        return False  # a failed task's worktree, kept on purpose: it holds work that is not committed
    return bool(task.owner) and task.owner not in teammates


def _has_changes(repo: BoardRepo, path: Path, head: str) -> bool:
    """True if the worktree's files (tracked, changed and untracked, as ``git add -A`` sees them)
    differ from its ``HEAD`` (:func:`gitboard.runtime.backup.snapshot` makes no commit then)."""
    env = repo.identity_env("gitboard")
    return backup.snapshot(path, head, env, "probe\n") != head


def _contained(repo: BoardRepo, commit: str, tid: int) -> bool:
    """True if the remote's ``task/<id>`` (local mode: the local branch) contains ``commit``."""
    try:
        remote_tip = fetch_branch(repo, branch_name(tid))
    except BoardError:
        return False
    if not remote_tip:
        return False
    return repo.git("merge-base", "--is-ancestor", commit, remote_tip, check=False).status == 0


def clean_dead_runs(repo: BoardRepo, board: Board, *, keep: Iterable[str] = (),
                    log: Callable[[str], None] = lambda s: None) -> Cleaned:
    """Remove what this clone's dead teammate runs left behind (see the module docstring).

    Args:
        repo: any worktree of the clone.
        board: the board as just read.
        keep: names to treat as live teammates of this clone (the caller itself).
        log: one line for each worktree removed, naming the ref its work was saved under.

    Returns:
        What was done (:class:`Cleaned`). A worktree whose work cannot be saved is left as it is.
    """
    out = Cleaned()
    teammates, live = clone_teammates(repo)
    live |= set(keep)
    teammates |= live
    busy = {m.task for m in board.team.members if m.name in live and isinstance(m.task, int)}
    busy |= {t.id for t in board.tasks.values() if t.owner and t.owner in live}
    state = Path(repo.common_dir, "gitboard")
    for tid, path in sorted(_task_worktrees(repo).items()):
        if tid in busy or not _moved_on(board, tid, path, teammates):
            continue
        try:
            res = gitcmd.run(str(path), ["rev-parse", "-q", "--verify", "HEAD^{commit}"], check=False)
            head = res.stdout.decode().strip() if res.status == 0 else ""
            if head and (_has_changes(repo, path, head) or not _contained(repo, head, tid)):
                out.saved[tid] = backup.keep(repo, tid, head, actor="gitboard", worktree=path)
        except BoardError as e:
            log(f"kept the worktree {path} of #{tid} (a dead run's): cannot save its work: {e.message}")
            continue
        kill_leftover(state, tid, path)
        remove(repo, path)
        out.removed[tid] = path
        where = f"; its work is saved as {out.saved[tid]}" if tid in out.saved else ""
        log(f"removed the worktree {path} left by a dead run of #{tid}{where}")
        if repo.remote:
            ref = f"refs/heads/{branch_name(tid)}"
            if repo.resolve(ref) and repo.git("update-ref", "-d", ref, check=False).status == 0:
                out.branches.append(tid)
    worktrees = _task_worktrees(repo)
    for record in sorted(state.joinpath("pids").glob("task-*.pgid")):
        tid_text = record.stem[len("task-"):]
        if not tid_text.isdigit() or int(tid_text) in busy:
            continue
        try:
            pgid = int(record.read_text().strip())
        except (OSError, ValueError):
            pgid = 0
        if int(tid_text) in worktrees or (pgid > 0 and processes.processes_in_group(pgid)):
            continue
        try:
            record.unlink()
            out.pgid_files.append(record)
        except OSError:
            pass
    return out
