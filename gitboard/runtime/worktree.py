"""Task worktrees: one git worktree per claimed task, on branch ``task/<id>``.

A worktree lives in a per-user state directory, outside any ``.git``
directory (agent CLIs such as Claude Code and Codex refuse to edit under one)
and outside the user's working tree (``git clean`` cannot reach it)::

    $XDG_STATE_HOME/gitboard/worktrees/<repo-id>/task-<id>     (else ~/.local/state/...)
    <DIR>/<repo-id>/task-<id>                                  (git config gitboard.worktrees DIR)

``<repo-id>`` is the repository's name and a short hash of its git common
directory (:func:`repo_id`), stable for a clone and readable. Every agent
tool runs inside the worktree. Worktrees made by earlier versions at
``<git-common-dir>/gitboard/worktrees/task-<id>`` are reused until their task
ends (:func:`legacy_worktree_path`). :func:`prepare` makes it:

- **New work** (no ``task/<id>`` branch here or on the remote): a new branch
  from the base branch (``git config gitboard.base``; the remote's copy of it
  in remote mode), with the work of each completed blocker merged in, in id
  order -- the commit named in the blocker's result, else its ``task/<b>``
  branch. A merge conflict raises :class:`MergeConflict` listing the files.
- **Continued work** (the branch exists: a takeover, a released task, a
  restart): the worktree checks out the existing branch, fast-forwarded to the
  remote's copy when that is ahead, so the work so far is kept. The remote's
  copy is what every clone sees: a local branch that has diverged from it (or
  that a reused worktree's uncommitted files keep from fast-forwarding) is
  replaced by it, after its commits and files are kept under a backup ref
  (:mod:`gitboard.runtime.backup`) named in the log. A task sent back for rework
  continues from the commit the board says was rejected (``result.commit``),
  never from a branch that lacks it.
- **A stale worktree** at the path (left by a teammate that died in this
  clone) is reused when it is a healthy checkout of the task's branch -- its
  uncommitted files are the dead teammate's work so far -- and replaced
  otherwise; never an error. A command the dead teammate left running there is
  killed first (:func:`kill_leftover`).

Every git command that commits (merges) runs with the repository's identity
environment (:meth:`BoardRepo.identity_env`), so no git identity is needed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from gitboard import proc as processes
from gitboard.board.errors import BoardError
from gitboard.board.snapshot import Board
from gitboard.board.task import COMPLETED, Task
from gitboard.store import git as gitcmd
from gitboard.store.merge import add_worktree, fetch_branch
from gitboard.store.repo import BoardRepo
from gitboard.runtime import backup
from gitboard.agents.command import pgid_file

#: Options that keep gitboard's own commits and merges independent of user settings (signing).
NO_SIGN = ("-c", "commit.gpgsign=false", "-c", "merge.autoStash=false")


class WorktreeError(BoardError):
    """The task's worktree cannot be made (no base branch, git refused ...). Fails the task (exit 1)."""


class BranchCheckedOut(WorktreeError):
    """The task's branch is checked out in another worktree of this clone (typically the user's
    own checkout: ``git checkout task/3``), so git cannot check it out for the teammate.

    Not the task's fault: the runtime releases the task instead of failing it, and does not
    claim it in this clone while the branch stays checked out there (see :func:`prepare`).

    Attributes:
        branch: ``task/<id>``.
        where: the worktree directories that have it checked out.
    """

    def __init__(self, branch: str, where: list[Path]) -> None:
        self.branch = branch
        self.where = where
        super().__init__(f"{branch} is checked out in {', '.join(str(p) for p in where)}; check out another "
                         f"branch there so that a teammate can work on it")


class MergeConflict(WorktreeError):
    """Merging a completed blocker's work into the task's branch conflicted.

    Attributes:
        blocker: the blocker's task id.
        files: the conflicting paths, relative to the worktree.
    """

    def __init__(self, task_id: int, blocker: int, files: list[str]) -> None:
        self.blocker = blocker
        self.files = files
        super().__init__(f"merge conflict bringing task #{blocker}'s work into task/{task_id}: "
                         + (", ".join(files) or "(no file named)"))


@dataclass(frozen=True)
class Worktree:
    """A prepared task worktree.

    Attributes:
        path: the worktree directory.
        branch: ``task/<id>``.
        continued: True if the branch existed already (takeover, release, restart).
        reused: True if an existing worktree directory was reused as it was.
        merged: blocker ids whose work was merged in.
    """

    path: Path
    branch: str
    continued: bool = False
    reused: bool = False
    merged: tuple[int, ...] = ()


def branch_name(task_id: int) -> str:
    """Return the branch of a task: ``task/<id>``."""
    return f"task/{task_id}"


#: Where the per-user state directory is when ``$XDG_STATE_HOME`` is unset (XDG Base Directory spec 0.8).
DEFAULT_STATE_HOME = "~/.local/state"


def state_home(env: dict[str, str] | None = None) -> Path:
    """Return the per-user state directory: ``$XDG_STATE_HOME``, else ``~/.local/state``.

    As the XDG Base Directory specification says, a relative ``$XDG_STATE_HOME`` is ignored.
    """
    value = (os.environ if env is None else env).get("XDG_STATE_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path(os.path.expanduser(DEFAULT_STATE_HOME))


def repo_id(repo: BoardRepo) -> str:
    """Return ``<name>-<hash>``, the directory name of this clone's worktrees.

    ``name`` is the clone's directory name (the parent of ``.git``, or a bare repository's
    name without ``.git``), reduced to ``[A-Za-z0-9._-]``; ``hash`` the first 10 hex digits of
    the SHA-1 of the git common directory's real path. Stable for a clone, distinct across
    clones, the same from every worktree of one clone.
    """
    common = os.path.realpath(repo.common_dir)
    base = os.path.basename(common)
    name = os.path.basename(os.path.dirname(common)) if base == ".git" else base.removesuffix(".git")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "repo"
    return f"{name[:40]}-{hashlib.sha1(common.encode()).hexdigest()[:10]}"


def _work_trees(repo: BoardRepo) -> list[str]:
    """The user's working trees of this clone: the main one (parent of a ``.git`` common dir) and ``repo``'s."""
    trees = []
    common = os.path.realpath(repo.common_dir)
    if os.path.basename(common) == ".git":
        trees.append(os.path.dirname(common))
    if repo.work_dir:
        trees.append(os.path.realpath(repo.work_dir))
    return trees


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def worktrees_dir(repo: BoardRepo, *, create: bool = True) -> Path:
    """Return the directory of this clone's task worktrees (see the module docstring).

    ``git config gitboard.worktrees DIR`` replaces ``$XDG_STATE_HOME/gitboard/worktrees``
    (``~`` is expanded; DIR must then be absolute); ``<repo-id>`` is appended either way, so
    one DIR (in a global git config, say) serves many clones.

    Args:
        create: make the directory (and its parents) if missing.

    Raises:
        WorktreeError: a relative DIR; the directory would be inside the user's working tree
            (where ``git clean`` and the user's own commands reach) or inside the git
            directory (agent CLIs refuse to edit there); or it cannot be made.
    """
    configured = repo.worktrees
    if configured:
        root = Path(os.path.expanduser(configured))
        if not root.is_absolute():
            raise WorktreeError(f"git config gitboard.worktrees must be an absolute directory (or start "
                                f"with ~/), not {configured!r}")
    else:
        root = state_home() / "gitboard" / "worktrees"
    where = Path(os.path.realpath(root)) / repo_id(repo)
    source = "git config gitboard.worktrees" if configured else "from $XDG_STATE_HOME or ~/.local/state"
    for tree in _work_trees(repo):
        if _inside(str(where), tree):
            raise WorktreeError(f"task worktrees would be at {where} ({source}), inside the working tree "
                                f"{tree}; set git config gitboard.worktrees to a directory outside it")
    if _inside(str(where), os.path.realpath(repo.common_dir)):
        raise WorktreeError(f"task worktrees would be at {where} ({source}), inside the git directory, where "
                            f"agent CLIs refuse to edit; set git config gitboard.worktrees to a directory outside it")
    if create:
        try:
            where.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise WorktreeError(f"cannot make the worktrees directory {where}: {e.strerror or e}") from None
    return where


def worktree_path(repo: BoardRepo, task_id: int, *, create: bool = True) -> Path:
    """Return ``<worktrees_dir>/task-<id>``, where task ``task_id``'s new worktree goes.

    Raises:
        WorktreeError: as :func:`worktrees_dir`.
    """
    return worktrees_dir(repo, create=create) / f"task-{task_id}"


def inbox_worktree_path(repo: BoardRepo, name: str) -> Path:
    """Return ``<worktrees_dir>/inbox-<name>``, the scratch worktree of teammate ``name``'s message
    sessions (its parent is created).

    Raises:
        WorktreeError: as :func:`worktrees_dir`.
    """
    return worktrees_dir(repo) / f"inbox-{name}"


def legacy_worktree_path(repo: BoardRepo, task_id: int) -> Path:
    """Return ``<git-common-dir>/gitboard/worktrees/task-<id>``, where earlier versions put task worktrees.

    One left there is reused by :func:`prepare` until its task ends; nothing new is made there.
    """
    return Path(repo.common_dir, "gitboard", "worktrees", f"task-{task_id}")


def find_worktree(repo: BoardRepo, task_id: int) -> Path | None:
    """Return the directory of task ``task_id``'s worktree in this clone, if one exists: the new
    location, else the legacy one; None if there is none (or the location cannot be told)."""
    try:
        path = worktree_path(repo, task_id, create=False)
    except WorktreeError:
        path = None
    for p in (path, legacy_worktree_path(repo, task_id)):
        if p is not None and p.is_dir():
            return p
    return None


def member_worktree(repo: BoardRepo, name: str, task_id: int | None) -> Path | None:
    """Return where teammate ``name`` works in this clone: its task's worktree (:func:`find_worktree`)
    when ``task_id`` is set, else its inbox-session scratch worktree if one exists; None otherwise."""
    if task_id is not None:
        return find_worktree(repo, task_id)
    try:
        scratch = worktrees_dir(repo, create=False) / f"inbox-{name}"
    except WorktreeError:
        return None
    return scratch if scratch.is_dir() else None


def _own_paths(repo: BoardRepo) -> tuple[str | None, str]:
    """The real paths of this clone's worktree directories: (new, legacy)."""
    try:
        new = os.path.realpath(worktrees_dir(repo, create=False))
    except WorktreeError:
        new = None
    return new, os.path.realpath(Path(repo.common_dir, "gitboard", "worktrees"))


def checkouts(repo: BoardRepo, *, own: bool = False) -> dict[str, list[Path]]:
    """Return which branches the worktrees of this clone have checked out: branch name
    (``main``, ``task/3`` ...) -> worktree directories, from ``git worktree list --porcelain``.

    Entries whose directory is gone (what ``git worktree prune`` drops) are left out, and so,
    unless ``own``, are gitboard's own task worktrees (``task/<id>`` at ``task-<id>`` in
    :func:`worktrees_dir` or the legacy location): whichever teammate of this clone works on
    the task uses that directory. Returns {} when git cannot tell.
    """
    res = repo.git("worktree", "list", "--porcelain", check=False)
    if res.status != 0:
        return {}
    out: dict[str, list[Path]] = {}
    roots = _own_paths(repo)
    path: str | None = None
    for line in res.stdout.decode(errors="replace").splitlines():
        if line.startswith("worktree "):
            path = line[len("worktree "):]
        elif line.startswith("branch refs/heads/") and path is not None:
            branch = line[len("branch refs/heads/"):]
            if os.path.isdir(path) and (own or not _is_own(roots, path, branch)):
                out.setdefault(branch, []).append(Path(path))
        elif not line:
            path = None
    return out


def _is_own(roots: tuple[str | None, str], path: str, branch: str) -> bool:
    if not branch.startswith("task/"):
        return False
    real = os.path.realpath(path)
    return os.path.basename(real) == "task-" + branch[len("task/"):] and os.path.dirname(real) in roots


def checked_out_elsewhere(listing: dict[str, list[Path]], branch: str, mine: Path | None = None) -> list[Path]:
    """Return the worktrees in ``listing`` (a :func:`checkouts` result) that have ``branch``
    checked out, other than ``mine`` (the task's own worktree path)."""
    mine_real = os.path.realpath(mine) if mine is not None else None
    return [p for p in listing.get(branch, []) if os.path.realpath(p) != mine_real]


def _legacy_pgid_file(repo_state: Path, task_id: int) -> Path:
    """Where earlier versions recorded it: ``<state_dir>/worktrees/task-<id>.pgid``."""
    return Path(repo_state) / "worktrees" / f"task-{task_id}.pgid"


def _git(cwd: Path | str, *args: str, env: dict[str, str] | None = None, check: bool = True) -> gitcmd.Result:
    return gitcmd.run(str(cwd), args, env=env, check=check)


def _out(res: gitcmd.Result) -> str:
    return res.stdout.decode(errors="replace").strip()


def kill_leftover(state_dir: Path, task_id: int, worktree: Path) -> bool:
    """Kill a command a dead teammate left running in task ``task_id``'s worktree.

    The command runner records its process group in :func:`pgid_file` (earlier versions:
    ``<state_dir>/worktrees/task-<id>.pgid``, also read). If
    processes of that group still run with their working directory inside
    ``worktree``, the group gets SIGKILL. Returns True if something was killed.
    """
    killed = False
    for record in (pgid_file(state_dir, task_id), _legacy_pgid_file(state_dir, task_id)):
        killed = _kill_recorded(record, worktree) or killed
    return killed


def _kill_recorded(record: Path, worktree: Path) -> bool:
    try:
        pgid = int(record.read_text().strip())
    except (OSError, ValueError):
        return False
    killed = processes.kill_group_in(pgid, worktree)
    try:
        record.unlink()
    except OSError:
        pass
    return killed


def base_commit(repo: BoardRepo) -> tuple[str, str]:
    """Return ``(name, commit)`` of the base that new task branches start from.

    The base branch is ``git config gitboard.base``, else the branch checked out
    here. In remote mode the remote's copy is fetched and preferred.

    Raises:
        WorktreeError: there is no base branch with a commit.
        GitFailure: the remote is unreachable.
    """
    name = repo.base
    if not name:
        head = _out(repo.git("symbolic-ref", "-q", "--short", "HEAD", check=False))
        name = head or None
    if name:
        if repo.remote:
            tip = fetch_branch(repo, name)
            if tip:
                return f"{repo.remote}/{name}", tip
        tip = repo.resolve(f"refs/heads/{name}")
        if tip:
            return name, tip
        raise WorktreeError(f"the base branch {name!r} has no commit yet: commit something to it first "
                            f"(or set git config gitboard.base)")
    tip = repo.resolve("HEAD")
    if tip:
        return "HEAD", tip
    raise WorktreeError("no base branch: set git config gitboard.base to the branch tasks start from")


def _blocker_commit(repo: BoardRepo, blocker: Task) -> str | None:
    """The commit that holds a completed blocker's work: its result's commit, else its branch."""
    result = blocker.result if isinstance(blocker.result, dict) else {}
    branch = result.get("branch") if isinstance(result.get("branch"), str) else branch_name(blocker.id)
    commit = result.get("commit") if isinstance(result.get("commit"), str) else None
    if commit and repo.resolve(commit):
        return repo.resolve(commit)
    fetched = fetch_branch(repo, branch) if repo.remote else None
    if commit and repo.resolve(commit):
        return repo.resolve(commit)
    return fetched or repo.resolve(f"refs/heads/{branch}")


def rejected_commit(repo: BoardRepo, task: Task) -> str | None:
    """The commit a task sent back for rework was rejected with: its result's ``commit`` (what the
    completion recorded), if the task has ``rework`` records and that commit exists here; else None."""
    if not task.rework or not isinstance(task.result, dict):
        return None
    commit = task.result.get("commit")
    if not isinstance(commit, str) or not re.fullmatch(r"[0-9a-f]{40}(?:[0-9a-f]{24})?", commit):
        return None
    return repo.resolve(commit)


def _dirty(path: Path) -> bool:
    """True if the worktree at ``path`` has uncommitted changes or untracked files (or git cannot tell)."""
    res = _git(path, "--no-optional-locks", "status", "--porcelain", "--untracked-files=all", check=False)
    return res.status != 0 or bool(res.stdout.strip())


def _healthy_checkout(repo: BoardRepo, path: Path, branch: str) -> bool:
    """True if ``path`` is a worktree of this repository with ``branch`` checked out."""
    if not (path / ".git").exists():
        return False
    common = _git(path, "rev-parse", "--git-common-dir", check=False)
    head = _git(path, "symbolic-ref", "-q", "HEAD", check=False)
    if common.status != 0 or head.status != 0:
        return False
    mine = os.path.realpath(repo.common_dir)
    theirs = os.path.realpath(os.path.join(path, _out(common)))
    if mine != theirs or _out(head) != f"refs/heads/{branch}":
        return False
    # a rebase left half-way is not worth keeping; a merge left half-way is the harness's rework
    # merge with the dead teammate's resolution so far (gitboard.runtime.rework continues it)
    git_dir = Path(os.path.realpath(os.path.join(path, _out(_git(path, "rev-parse", "--git-dir")))))
    return not any((git_dir / f).exists() for f in ("rebase-merge", "rebase-apply"))


def remove(repo: BoardRepo, path: Path) -> None:
    """Remove the worktree at ``path`` (forcefully: its work is committed or abandoned); the branch stays.

    Its parent directory goes too once empty (``<repo-id>/`` after its last worktree). Never
    raises for a worktree that is already gone. A symbolic link at ``path`` is removed
    itself, never followed.
    """
    if path.is_symlink():
        path.unlink(missing_ok=True)
        repo.git("worktree", "prune", check=False)
        return
    repo.git("worktree", "remove", "--force", "--force", str(path), check=False)
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
    repo.git("worktree", "prune", check=False)
    try:  # the clone's directory of worktrees goes with its last one (git worktree add makes it again)
        os.rmdir(path.parent)
    except OSError:
        pass


def prepare(repo: BoardRepo, task: Task, board: Board, *, actor: str,
            log: Callable[[str], None] = lambda s: None) -> Worktree:
    """Make (or reuse) the worktree of ``task`` on branch ``task/<id>`` and return it.

    Args:
        repo: the teammate's repository (any worktree of the clone).
        task: the task just claimed.
        board: the board it was claimed on (blockers' results are read from it).
        actor: the teammate, for the identity of merge commits.
        log: where to report what was done (one line each).

    The branch checked out elsewhere in this clone (the user ran ``git checkout task/<id>``)
    raises :class:`BranchCheckedOut`, and nothing is changed. The alternatives are unsafe:
    a detached worktree whose commits then move ``task/<id>`` would change the branch under
    the user's checkout (their index and files would no longer match ``HEAD`` -- what
    ``receive.denyCurrentBranch`` guards against), and ``--force`` would have two checkouts
    of one branch. So the runtime gives the task back instead (see ``gitboard.runtime.work``).

    Raises:
        BranchCheckedOut: ``task/<id>`` is checked out in another worktree of this clone.
        MergeConflict: a blocker's work conflicts; the branch is deleted again
            unless it existed before, and the worktree removed.
        WorktreeError: no base branch, or git refused to make the worktree.
        GitFailure: the remote is unreachable (retry later).
    """
    new_path = worktree_path(repo, task.id)
    legacy = legacy_worktree_path(repo, task.id)
    # a worktree an earlier version left under the git directory is worked on there until the task ends
    path = legacy if (legacy.exists() or legacy.is_symlink()) and not new_path.exists() else new_path
    branch = branch_name(task.id)
    ref = f"refs/heads/{branch}"
    env = repo.identity_env(actor)
    kill_leftover(Path(repo.common_dir) / "gitboard", task.id, path)
    if path != legacy and (legacy.exists() or legacy.is_symlink()):
        remove(repo, legacy)  # both exist: the one under .git is a leftover
    repo.git("worktree", "prune", check=False)

    remote_tip = fetch_branch(repo, branch) if repo.remote else None
    local_tip = repo.resolve(ref)
    if local_tip:
        elsewhere = checked_out_elsewhere(checkouts(repo), branch, mine=path)
        if elsewhere:
            raise BranchCheckedOut(branch, elsewhere)

    def contains(tip: str, commit: str) -> bool:
        return tip == commit or repo.git("merge-base", "--is-ancestor", commit, tip, check=False).status == 0

    # where the branch must be: the remote's copy (what every clone sees), holding the rejected work
    # the board names when the task came back for rework; else the local branch as it is
    target = remote_tip or local_tip
    rejected = rejected_commit(repo, task)
    if rejected and (target is None or not contains(target, rejected)):
        target = rejected
    behind = bool(local_tip and target and not contains(local_tip, target))

    def replace(worktree: Path | None) -> None:
        """Keep the local branch (and a worktree's uncommitted files) under a backup ref, then point
        the branch at ``target``."""
        kept = backup.keep(repo, task.id, local_tip, actor=actor, worktree=worktree)
        where = f"{repo.remote}'s copy" if target == remote_tip else "the rejected commit the board names"
        log(f"replaced the local {branch} ({local_tip[:12]}) with {where} ({target[:12]}); "
            f"its work is kept under {kept}")
        if worktree is not None:
            remove(repo, worktree)
        repo.git("update-ref", "-m", f"gitboard: {actor} replaces {branch}", ref, target, local_tip)

    # 1. a stale worktree at our path: reuse it if healthy, else replace it
    if path.exists():
        if local_tip and _healthy_checkout(repo, path, branch):
            if behind and contains(target, local_tip) and not _dirty(path):
                ff = _git(path, "merge", "-q", "--ff-only", target, env=env, check=False)
                behind = ff.status != 0
            if not behind:
                log(f"reusing the worktree left at {path}"
                    + (" (the old location under the git directory, kept until the task ends)" if path == legacy else ""))
                return Worktree(path, branch, continued=True, reused=True)
            replace(path)
            local_tip = target
            behind = False
        else:
            log(f"replacing a stale worktree at {path}")
            remove(repo, path)
        path = new_path

    if behind:  # no worktree: a fast-forward just moves the ref; a diverged branch is kept first
        if contains(target, local_tip):
            repo.git("update-ref", "-m", f"gitboard: {actor} continues {branch}", ref, target, local_tip)
        else:
            replace(None)
    elif local_tip is None and target:
        repo.git("update-ref", "-m", f"gitboard: {actor} continues {branch}", ref, target, "0" * 40)
    local_tip = repo.resolve(ref)

    # 2. the branch exists (here or on the remote): continue from it
    if local_tip:
        res = add_worktree(repo, str(path), str(path), branch)
        if res.status != 0:
            raise WorktreeError(f"cannot make the worktree of {branch}: {gitcmd.last_line(res.stderr)}")
        log(f"continuing from the existing branch {branch} in the worktree {path}")
        return Worktree(path, branch, continued=True)

    # 3. new work: a branch from the base, with the completed blockers' work merged in
    base_name, start = base_commit(repo)
    res = add_worktree(repo, str(path), "-b", branch, str(path), start)
    if res.status != 0:
        raise WorktreeError(f"cannot make the worktree of {branch}: {gitcmd.last_line(res.stderr)}")
    merged: list[int] = []
    for b in sorted(set(task.blockedBy)):
        blocker = board.tasks.get(b)
        if blocker is None or blocker.status != COMPLETED:
            continue
        commit = _blocker_commit(repo, blocker)
        if commit is None:
            log(f"task #{b} left no branch; nothing of it to merge")
            continue
        m = _git(path, *NO_SIGN, "merge", "-q", "--no-ff", "--no-edit", "-m",
                 f"merge task/{b} into {branch}", commit, env=env, check=False)
        if m.status != 0:
            files = [f for f in _out(_git(path, "diff", "--name-only", "--diff-filter=U", check=False)).splitlines() if f]
            _git(path, "merge", "--abort", check=False)
            remove(repo, path)
            repo.git("branch", "-D", branch, check=False)
            if not files:
                raise WorktreeError(f"cannot merge task #{b}'s work into {branch}: {gitcmd.last_line(m.stderr)}")
            raise MergeConflict(task.id, b, files)
        merged.append(b)
    log(f"worktree {path} on {branch} from {base_name}"
        + (f", merged {', '.join(f'task/{b}' for b in merged)}" if merged else ""))
    return Worktree(path, branch, merged=tuple(merged))
