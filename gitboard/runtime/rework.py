"""Rework: a task sent back by the lead (``reject``) or the merge queue (a conflict, a failed
check) is claimed like any ready task and continues from ``task/<id>``.

Before the agent runs, the harness brings the current base into the branch
(:func:`start`):

- **agents that edit** (anthropic, exec): ``git merge`` of the base tip into the branch.
  A conflict is left in the worktree, with its markers, for the agent to resolve; the
  prompt names the conflicting files and carries every ``rework`` record (the lead's
  feedback, the conflicting paths, the check's output) -- see
  :func:`gitboard.llm.prompts.rework_text`. The
  harness refuses to complete the task while files still hold conflict markers
  (:func:`leftover_conflicts`).
- **the shell agent**, whose ``run`` command is the whole task: the branch restarts from
  the current base (plus the work of blockers that are completed but not merged yet) and
  the command runs again. The restart is a commit whose tree is the fresh start and whose
  parents are the old tip and the base tip, so the branch only fast-forwards (its pushes
  need no force) while its files are exactly those of a new start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from gitboard.board.snapshot import Board
from gitboard.board.task import COMPLETED, Task
from gitboard.store import git as gitcmd
from gitboard.store.repo import BoardRepo
from gitboard.runtime.worktree import NO_SIGN, Worktree, WorktreeError, _blocker_commit, base_commit

#: Line starts that mark an unresolved conflict (git's default ``merge`` conflict style).
MARKERS = ("<<<<<<< ", ">>>>>>> ")


@dataclass(frozen=True)
class ReworkStart:
    """How the branch was brought up to date before the agent ran.

    Attributes:
        base: the base's name (``main``, ``origin/main``).
        commit: the base commit brought in.
        conflicts: paths left with conflict markers for the agent ([] when the merge was clean).
        restarted: True if the branch restarted from the base (the shell agent).
    """

    base: str
    commit: str
    conflicts: tuple[str, ...] = ()
    restarted: bool = False

    def to_json(self) -> dict[str, Any]:
        """``{"base", "commit", "conflicts", "restarted"}``."""
        return {"base": self.base, "commit": self.commit, "conflicts": list(self.conflicts),
                "restarted": self.restarted}


def needs_rework(task: Task) -> bool:
    """True if the task came back for rework (it has ``rework`` records)."""
    return bool(task.rework)


def _git(wt: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> gitcmd.Result:
    return gitcmd.run(str(wt), args, env=env, check=check)


def _unmerged(wt: Path) -> list[str]:
    out = _git(wt, "diff", "--name-only", "-z", "--diff-filter=U", check=False).stdout.decode(errors="surrogateescape")
    return sorted({p for p in out.split("\0") if p})


def start(repo: BoardRepo, wt: Worktree, task: Task, board: Board, *, actor: str, restart: bool,
          log: Callable[[str], None] = lambda s: None) -> ReworkStart:
    """Bring the current base into the rework branch checked out at ``wt`` (see the module docstring).

    Args:
        restart: restart the branch from the base instead of merging (the shell agent).

    A merge already in progress in the worktree (a teammate died while resolving it) is
    continued as it is, with its unresolved files, rather than started again.

    Returns:
        What was done; ``conflicts`` lists the files left with markers.

    Raises:
        WorktreeError: git refused the merge for a reason other than a conflict (a dirty worktree ...).
        GitFailure: the remote is unreachable.
    """
    env = repo.identity_env(actor)
    name, tip = base_commit(repo)
    path = wt.path
    ongoing = _git(path, "rev-parse", "-q", "--verify", "MERGE_HEAD", check=False)
    if ongoing.status == 0:  # a rework merge a dead teammate left half-way: keep its resolution so far
        if restart:
            _git(path, "merge", "--abort", check=False)
        else:
            left = tuple(_unmerged(path))
            merging = ongoing.stdout.decode().strip()
            log(f"rework #{task.id}: continuing the merge of {merging[:12]} left in the worktree"
                + (f"; still conflicting: {', '.join(left)}" if left else ""))
            return ReworkStart(name, merging, left)
    if restart:
        old = _git(path, "rev-parse", "HEAD").stdout.decode().strip()
        _git(path, "read-tree", "-u", "--reset", tip)
        message = f"rework #{task.id}: restart from {name} at {tip[:12]}\n\nGitboard-Task: {task.id}\nGitboard-Actor: {actor}\n"
        tree = _git(path, "rev-parse", f"{tip}^{{tree}}").stdout.decode().strip()
        commit = gitcmd.run(str(path), [*NO_SIGN, "commit-tree", tree, "-p", old, "-p", tip, "-F", "-"],
                            input=message.encode(), env=env).stdout.decode().strip()
        _git(path, "update-ref", "-m", f"gitboard: rework restart of {wt.branch}", f"refs/heads/{wt.branch}", commit, old)
        merged = []
        for b in sorted(set(task.blockedBy)):
            blocker = board.tasks.get(b)
            if blocker is None or blocker.status != COMPLETED:
                continue  # merged blockers are in the base already
            work = _blocker_commit(repo, blocker)
            if work is None:
                continue
            m = _git(path, *NO_SIGN, "merge", "-q", "--no-ff", "--no-edit", "-m",
                     f"merge task/{b} into {wt.branch}", work, env=env, check=False)
            if m.status != 0:
                files = _unmerged(path)
                _git(path, "merge", "--abort", check=False)
                raise WorktreeError(f"rework of #{task.id}: merging task #{b}'s work conflicts in "
                                    + (", ".join(files) or gitcmd.last_line(m.stderr)))
            merged.append(b)
        log(f"rework #{task.id}: restarted {wt.branch} from {name} ({tip[:12]})"
            + (f", merged {', '.join(f'task/{b}' for b in merged)}" if merged else ""))
        return ReworkStart(name, tip, (), True)
    m = _git(path, *NO_SIGN, "merge", "-q", "--no-ff", "--no-edit", "-m",
             f"merge {name} into {wt.branch} for rework", tip, env=env, check=False)
    if m.status == 0:
        log(f"rework #{task.id}: merged {name} ({tip[:12]}) into {wt.branch}")
        return ReworkStart(name, tip)
    files = _unmerged(path)
    if not files:
        _git(path, "merge", "--abort", check=False)
        raise WorktreeError(f"rework of #{task.id}: cannot merge {name} into {wt.branch}: {gitcmd.last_line(m.stderr)}")
    log(f"rework #{task.id}: merging {name} ({tip[:12]}) into {wt.branch} conflicts in {', '.join(files)}; "
        f"left with markers for the agent")
    return ReworkStart(name, tip, tuple(files))


def leftover_conflicts(worktree: Path, paths: Iterable[str]) -> list[str]:
    """The files among ``paths`` (relative to ``worktree``) that still hold a conflict marker line
    (``<<<<<<< `` or ``>>>>>>> ``), or whose conflict git still records as unresolved."""
    out = set()
    for rel in paths:
        try:
            with open(Path(worktree, rel), "rb") as f:
                for line in f:
                    if line.startswith(tuple(m.encode() for m in MARKERS)):
                        out.add(rel)
                        break
        except OSError:
            continue  # deleted: a resolution
    return sorted(out)
