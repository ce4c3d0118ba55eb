"""Git plumbing of review and merge: branches, ``git merge-tree``, merge commits, and the
one atomic move of the base branch together with the board.

Nothing here touches a working tree except :func:`bring_along`, which moves a
clean checkout of the base branch the way ``git merge --ff-only`` would.

The merge is computed by ``git merge-tree --write-tree`` (git 2.38): it writes
the merged tree into the object database and reports conflicting paths, with no
index or worktree involved. The base moves and the task becomes ``merged`` in
one step (:func:`land`):

- locally, one ``git update-ref --stdin`` transaction holding the old values of
  both the base ref and the board ref: both move or neither does;
- in remote mode, one ``git push --atomic`` of the merge commit to the base
  branch and the board commit to the board branch, without force: the remote
  takes both or neither, and refuses both if either moved.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from gitboard.board.change import ACTOR, TASK, Change, NoChange
from gitboard.board.errors import CheckoutDirty, Conflict, GitFailure, NotFound
from gitboard.board.snapshot import Board
from gitboard.board.task import Task
from gitboard.store import git as gitcmd
from gitboard.store.repo import BoardRepo

#: Options that keep gitboard's merge commits independent of user settings (signing).
NO_SIGN = ("-c", "commit.gpgsign=false")


def task_branch(task: Task) -> str:
    """The branch holding a task's work: ``result.branch`` if it names one, else ``task/<id>``."""
    result = task.result if isinstance(task.result, dict) else {}
    branch = result.get("branch")
    return branch if isinstance(branch, str) and branch else f"task/{task.id}"


def base_branch(repo: BoardRepo) -> str:
    """Return the base branch's name: ``git config gitboard.base``, else the branch checked out here.

    Raises:
        GitFailure: neither is set (a detached HEAD or a bare repository without gitboard.base),
            or what is checked out is a task branch (``task/<id>``).
    """
    if repo.base:
        return repo.base
    res = repo.git("symbolic-ref", "-q", "--short", "HEAD", check=False)
    name = res.stdout.decode(errors="replace").strip()
    if res.status != 0 or not name or name == repo.branch:
        raise GitFailure("no base branch: set git config gitboard.base to the branch tasks merge into")
    if name.startswith("task/"):
        raise GitFailure(f"{name} is checked out here, and a task branch is no base: set git config "
                         f"gitboard.base to the branch tasks merge into")
    return name


def fetch_branch(repo: BoardRepo, branch: str) -> str | None:
    """Fetch ``branch`` from the remote into ``refs/remotes/<remote>/<branch>`` and return its tip
    (None if the remote has no such branch). Local mode: the local branch's tip.

    Raises:
        GitFailure: the remote is unreachable.
    """
    if not repo.remote:
        return repo.resolve(f"refs/heads/{branch}")
    tracking = f"refs/remotes/{repo.remote}/{branch}"
    res = None
    for attempt in range(8):
        res = repo.git("fetch", "-q", "--no-tags", "--no-write-fetch-head", repo.remote,
                       f"+refs/heads/{branch}:{tracking}", check=False)
        if res.status == 0 or "cannot lock ref" not in res.stderr:
            break
        time.sleep(0.02 * (attempt + 1))  # another process of this clone fetched it at the same moment
    assert res is not None
    if res.status != 0:
        if "couldn't find remote ref" in res.stderr.lower() or "could not find remote ref" in res.stderr.lower():
            return None
        raise GitFailure(f"cannot fetch {branch} from {repo.remote}: {gitcmd.last_line(res.stderr)}")
    return repo.resolve(tracking)


def local_branch(repo: BoardRepo, branch: str) -> str | None:
    """The tip of ``branch`` as this clone last saw it: the remote-tracking ref in remote mode, else the branch."""
    if repo.remote:
        return repo.resolve(f"refs/remotes/{repo.remote}/{branch}")
    return repo.resolve(f"refs/heads/{branch}")


@dataclass(frozen=True)
class MergeTree:
    """What ``git merge-tree --write-tree`` computed.

    Attributes:
        tree: the merged tree's id (with conflict markers in conflicting files).
        conflicts: conflicting paths, sorted; empty when the merge is clean.
    """

    tree: str
    conflicts: tuple[str, ...]

    @property
    def clean(self) -> bool:
        """True if nothing conflicted."""
        return not self.conflicts


_WRITE_TREE: list[bool] = []


def has_write_tree() -> bool:
    """True if this git has ``git merge-tree --write-tree`` (2.38 or newer); asked once per process."""
    if not _WRITE_TREE:
        out = gitcmd.run(".", ["version"], check=False).stdout.decode(errors="replace")
        m = re.search(r"(\d+)\.(\d+)", out)
        _WRITE_TREE.append(bool(m) and (int(m.group(1)), int(m.group(2))) >= (2, 38))
    return _WRITE_TREE[0]


def merge_tree(repo: BoardRepo, base: str, branch: str) -> MergeTree:
    """Merge commits ``base`` and ``branch`` in the object database only (``git merge-tree --write-tree``).

    A git older than 2.38 merges in a temporary detached worktree under
    ``<git-common-dir>/gitboard/tmp/`` instead (:func:`merge_in_worktree`); the user's
    working tree is never touched either way.

    Raises:
        GitFailure: git could not merge (no merge base is fine; a missing object is not).
    """
    if not has_write_tree():
        return merge_in_worktree(repo, base, branch)
    res = repo.git("merge-tree", "--write-tree", "--name-only", "--no-messages", "-z",
                   "--allow-unrelated-histories", base, branch, check=False)
    if res.status not in (0, 1):
        raise GitFailure(f"git merge-tree failed: {gitcmd.last_line(res.stderr) or f'exit {res.status}'}")
    fields = [f for f in res.stdout.decode(errors="surrogateescape").split("\0")]
    tree = fields[0].strip()
    paths = sorted({f for f in fields[1:] if f}) if res.status == 1 else []
    return MergeTree(tree, tuple(paths))


#: Words of ``git worktree`` errors that come from another process of this clone adding or removing
#: a worktree at the same moment (its half-made entry under ``.git/worktrees``): retried.
_WORKTREE_RACE = ("failed to read", "cannot lock", ".lock", "could not create directory", "already exists")


def add_worktree(repo: BoardRepo, path: str, *args: str, attempts: int = 20) -> gitcmd.Result:
    """``git worktree add -q <args...>`` making ``path``, retried while another process of this clone
    adds or removes a worktree at the same moment (git then trips over the half-made entry under
    ``.git/worktrees``: "failed to read .../commondir" and the like).

    Args:
        path: the worktree's directory, as it appears in ``args``.
        args: the rest of the command line, e.g. ``("--detach", path, commit)`` or ``("-b", branch, path, start)``.

    Returns:
        git's last result: status 0, or the refusal that was not a race (or the last race lost).
    """
    res = None
    for attempt in range(attempts):
        res = repo.git("worktree", "add", "-q", *args, check=False)
        if res.status == 0 or "a branch named" in res.stderr:
            return res
        if not any(w in res.stderr for w in _WORKTREE_RACE):
            return res
        if os.path.exists(path) and not os.listdir(path):
            os.rmdir(path)
        time.sleep(0.01 * (attempt + 1))
    assert res is not None
    return res


def add_detached_worktree(repo: BoardRepo, path: str, commit: str, *, attempts: int = 20) -> None:
    """``git worktree add --detach <path> <commit>`` through :func:`add_worktree`.

    Raises:
        GitFailure: git refused for another reason, or kept failing.
    """
    res = add_worktree(repo, path, "--detach", path, commit, attempts=attempts)
    if res.status != 0:
        raise GitFailure(f"git worktree add failed: {gitcmd.last_line(res.stderr) or f'exit {res.status}'}")


def merge_in_worktree(repo: BoardRepo, base: str, branch: str) -> MergeTree:
    """:func:`merge_tree` for a git without ``merge-tree --write-tree``: ``git merge --no-commit`` in a
    temporary detached worktree of ``base`` under ``<git-common-dir>/gitboard/tmp/``, removed afterwards.

    Raises:
        GitFailure: git could not make the worktree or merge for another reason than a conflict.
    """
    path = repo.state_dir("tmp") / f"merge-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    add_detached_worktree(repo, str(path), base)
    try:
        env = repo.identity_env("gitboard")
        m = gitcmd.run(str(path), [*NO_SIGN, "merge", "-q", "--no-commit", "--no-ff", "--allow-unrelated-histories",
                                   branch], env=env, check=False)
        unmerged = gitcmd.run(str(path), ["diff", "--name-only", "-z", "--diff-filter=U"], check=False)
        conflicts = sorted({p for p in unmerged.stdout.decode(errors="surrogateescape").split("\0") if p})
        if m.status != 0 and not conflicts:
            raise GitFailure(f"git merge failed: {gitcmd.last_line(m.stderr) or f'exit {m.status}'}")
        gitcmd.run(str(path), ["add", "-A"])
        tree = gitcmd.run(str(path), ["write-tree"]).stdout.decode().strip()
        return MergeTree(tree, tuple(conflicts))
    finally:
        repo.git("worktree", "remove", "--force", "--force", str(path), check=False)
        if path.exists():
            import shutil

            shutil.rmtree(path, ignore_errors=True)
            repo.git("worktree", "prune", check=False)


def merge_base(repo: BoardRepo, a: str, b: str) -> str | None:
    """The best common ancestor of ``a`` and ``b`` (``git merge-base``), or None."""
    res = repo.git("merge-base", a, b, check=False)
    return res.stdout.decode().strip() or None if res.status == 0 else None


def merge_message(task: Task, actor: str) -> str:
    """``Merge task #<id>: <subject>`` with the trailers ``Gitboard-Task`` and ``Gitboard-Actor``."""
    subject = " ".join(task.subject.split())
    return f"Merge task #{task.id}: {subject}\n\n{TASK}: {task.id}\n{ACTOR}: {actor}\n"


def write_merge_commit(repo: BoardRepo, tree: str, base: str, branch: str, message: str, actor: str) -> str:
    """Write the merge commit of ``tree`` with parents ``base`` (first) and ``branch``; return its id.

    Raises:
        GitFailure: git refused.
    """
    res = repo.git(*NO_SIGN, "commit-tree", tree, "-p", base, "-p", branch, "-F", "-",
                   input=message.encode(), env=repo.identity_env(actor))
    return res.stdout.decode().strip()


def changed_paths(repo: BoardRepo, old: str, new: str) -> list[str]:
    """Paths that differ between commits ``old`` and ``new`` (``git diff --name-only -z``)."""
    raw = repo.git("diff", "--name-only", "--no-renames", "-z", old, new).stdout
    return [p for p in raw.decode(errors="surrogateescape").split("\0") if p]


# -- the user's checkout of the base ----------------------------------------------

#: Seconds :func:`bring_along` keeps retrying while another git process holds the index lock.
INDEX_LOCK_SECONDS = 10.0


def checkout_of(repo: BoardRepo, branch: str) -> str | None:
    """The worktree directory of this clone that has ``branch`` checked out, or None."""
    res = repo.git("worktree", "list", "--porcelain", check=False)
    path = None
    for line in res.stdout.decode(errors="surrogateescape").splitlines():
        if line.startswith("worktree "):
            path = line[len("worktree "):]
        elif line == f"branch refs/heads/{branch}" and path and os.path.isdir(path):
            return path
    return None


def dirty_paths(worktree: str) -> set[str]:
    """Paths with uncommitted changes in ``worktree``: staged, unstaged, and untracked (not ignored)."""
    # --no-optional-locks: no index refresh, so no index.lock that another queue's bring_along would meet
    res = gitcmd.run(worktree, ["--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all",
                                "--no-renames"])
    out: set[str] = set()
    for rec in res.stdout.decode(errors="surrogateescape").split("\0"):
        if len(rec) > 3:
            out.add(rec[3:])
    return out


def check_checkout(repo: BoardRepo, branch: str, touched: set[str]) -> None:
    """Refuse when ``branch`` is checked out here with uncommitted changes to any of ``touched``,
    or with a stale ``index.lock`` (:func:`stale_index_lock`).

    Raises:
        CheckoutDirty: names the worktree and the files, or the lock (a Conflict, exit 3);
            nothing is changed.
    """
    where = checkout_of(repo, branch)
    if where is None:
        return
    lock = stale_index_lock(where)
    if lock is not None:
        raise CheckoutDirty(_locked(where, branch, lock))
    clash = sorted(dirty_paths(where) & touched)
    if clash:
        raise CheckoutDirty(f"{branch} is checked out in {where} with uncommitted changes to files the merge "
                       f"touches: {', '.join(clash)}; commit or stash them (nothing was changed)")


def index_lock(worktree: str) -> str:
    """The path of ``worktree``'s ``index.lock`` (``git rev-parse --git-path index.lock``: a linked
    worktree's lives under ``<git-common-dir>/worktrees/<name>/``)."""
    res = gitcmd.run(worktree, ["rev-parse", "--git-path", "index.lock"], check=False)
    path = res.stdout.decode(errors="surrogateescape").strip() or os.path.join(".git", "index.lock")
    return os.path.normpath(os.path.join(worktree, path))


def stale_index_lock(worktree: str, now: float | None = None) -> str | None:
    """Return ``worktree``'s ``index.lock`` path if it exists and was last modified at least
    :data:`INDEX_LOCK_SECONDS` ago (``now``: seconds since the epoch) -- left by a git command
    that died, since a live one holds it for moments -- else None."""
    lock = index_lock(worktree)
    try:
        age = (time.time() if now is None else now) - os.stat(lock).st_mtime
    except OSError:
        return None
    return lock if age >= INDEX_LOCK_SECONDS else None


def _locked(worktree: str, what: str, lock: str) -> str:
    return (f"the checkout of {what} in {worktree} cannot be updated: its index is locked by {lock} (another git "
            f"command runs there, or one died and left the lock behind: remove the file if no git command "
            f"runs there); nothing was changed")


def bring_along(repo: BoardRepo, worktree: str, old: str, new: str) -> None:
    """Move the index and files of ``worktree``, whose checked-out branch is at ``old``, to ``new``,
    as ``git merge --ff-only`` does before it moves the branch: a two-tree ``git read-tree -m -u``,
    which keeps uncommitted changes to files the move does not touch and changes nothing at all
    when it cannot (a touched file has changes).

    Another git process holding the worktree's ``index.lock`` (an editor's ``git status``,
    the user's own command) is a lost race: git changed nothing, and the move is tried again
    for up to :data:`INDEX_LOCK_SECONDS`. A lock already that old (:func:`stale_index_lock`)
    is not waited for.

    Raises:
        CheckoutDirty: git refused: a file the move touches has uncommitted changes, or the
            index stayed locked (the message names the lock file); nothing changed.
    """
    give_up = time.monotonic() + INDEX_LOCK_SECONDS
    delay = 0.01
    while True:
        res = gitcmd.run(worktree, ["read-tree", "-m", "-u", old, new], check=False, new_session=True)
        if res.status == 0 or "index.lock" not in res.stderr:
            break
        if time.monotonic() >= give_up or stale_index_lock(worktree) is not None:
            raise CheckoutDirty(_locked(worktree, new[:12], index_lock(worktree)))
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    if res.status != 0:
        raise CheckoutDirty(f"the checkout in {worktree} cannot follow to {new[:12]}: "
                            f"{gitcmd.last_line(res.stderr)}; commit or stash your changes (nothing was changed)")


# -- landing: base and board in one step -------------------------------------------

#: :func:`land` outcomes.
LANDED, BASE_MOVED = "landed", "base-moved"


def _update_both(repo: BoardRepo, base_ref: str, new_base: str, old_base: str,
                 board_commit: str, old_board: str, message: str) -> tuple[bool, str]:
    """One ``git update-ref --stdin`` transaction; returns (moved, git's error line)."""
    script = (f"start\nupdate {base_ref} {new_base} {old_base}\n"
              f"update {repo.ref} {board_commit} {old_board}\nprepare\ncommit\n")
    res = gitcmd.run(repo.cwd, ["update-ref", "-m", message, "--stdin"], input=script.encode(), check=False,
                     new_session=True)
    return res.status == 0, gitcmd.last_line(res.stderr)


def _push_both(repo: BoardRepo, base_ref: str, new_base: str, board_commit: str) -> bool:
    """One ``git push --atomic`` of both refs without force; True if the remote took them from us.

    A ref the remote already has at exactly our commit ("up to date") is a lost race: two
    queues that merge the same task onto the same tip in the same second write
    byte-identical commits, and only the first push landed them.

    Raises:
        HookRefused: the remote's pre-receive hook declined it.
        GitFailure: unreachable, or refused for a reason other than a moved ref.
    """
    from gitboard.store.remote import _RACE_WORDS, hook_refusal

    res = gitcmd.run(repo.cwd, ["push", "--porcelain", "--atomic", "--no-verify", repo.remote,
                                f"{new_base}:{base_ref}", f"{board_commit}:{repo.ref}"], check=False, new_session=True)
    out = res.stdout.decode(errors="replace")
    flags = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1].endswith((":" + base_ref, ":" + repo.ref)):
            flags[parts[1].rsplit(":", 1)[1]] = (parts[0], parts[2].strip())
    if res.status == 0 and len(flags) == 2 and all(f not in ("!", "=") for f, _ in flags.values()):
        return True
    if res.status == 0 and any(f == "=" for f, _ in flags.values()):
        # "up to date": another queue landed byte-identical commits (the same merge of the same
        # task onto the same tip in the same second) -- its merge, not ours: a lost race
        return False
    summaries = [s for f, s in flags.values() if f == "!"]
    for s in summaries:  # the remote's pre-receive hook said no: an answer, never retried
        refused = hook_refusal(repo.remote or "", s, res.stderr)
        if refused is not None:
            raise refused
    if summaries and all(s.startswith("[rejected]") or "atomic" in s or any(w in s.lower() for w in _RACE_WORDS)
                         for s in summaries):
        return False
    why = "; ".join(summaries) or gitcmd.last_line(res.stderr) or f"git push exited {res.status}"
    raise GitFailure(f"cannot push the merge to {repo.remote}: {why}")


@dataclass(frozen=True)
class BaseMove:
    """The base branch's fast-forward from ``old`` to ``new`` (a merge commit), riding along with the
    board commit in :func:`~gitboard.store.transact.transact` (a :class:`~gitboard.store.transact.RefMove`).

    Locally, a checkout of the base branch in this clone is brought along (:func:`bring_along`)
    just before the refs move -- the order of ``git merge --ff-only``, so that a checkout that
    cannot follow stops the landing with nothing changed -- and back again if the refs then do
    not move; a checkout with uncommitted changes to files the move touches is refused first
    (:func:`check_checkout`).

    Attributes:
        ref: ``refs/heads/<base>``.
        new, old: commit ids.
    """

    ref: str
    new: str
    old: str

    @property
    def branch(self) -> str:
        """The base branch's name."""
        return self.ref[len("refs/heads/"):]

    def current(self, repo: BoardRepo) -> bool:
        """True if the base is still at ``old`` (remote mode: fetched now)."""
        if repo.remote:
            return fetch_branch(repo, self.branch) == self.old
        return repo.resolve(self.ref) == self.old

    def swap(self, repo: BoardRepo, commit: str, old_board: str, subject: str) -> bool:
        """Move both refs in one ``git update-ref --stdin`` transaction, bringing a checkout along.

        Raises:
            CheckoutDirty: the checked-out base has uncommitted changes in files the move touches.
            GitFailure: the refs did not move and the checkout could not go back.
        """
        where = checkout_of(repo, self.branch)
        if where is not None:  # files first, then the refs, as git merge --ff-only does
            check_checkout(repo, self.branch, set(changed_paths(repo, self.old, self.new)))
            bring_along(repo, where, self.old, self.new)
        won, why = _update_both(repo, self.ref, self.new, self.old, commit, old_board, subject)
        if not won and where is not None:
            try:
                bring_along(repo, where, self.new, self.old)  # the refs stayed: so do the files
            except CheckoutDirty:
                raise GitFailure(f"{self.branch} did not move ({why}), but its checkout in {where} could not "
                                 f"go back from {self.new[:12]}; run 'git reset --keep {self.old[:12]}' "
                                 f"there") from None
        return won

    def push(self, repo: BoardRepo, commit: str) -> bool:
        """One ``git push --atomic`` of the base and the board (:func:`_push_both`); on a win the
        base's tracking ref follows."""
        won = _push_both(repo, self.ref, self.new, commit)
        if won:
            repo.git("update-ref", f"refs/remotes/{repo.remote}/{self.branch}", self.new, check=False)
        return won


def land(repo: BoardRepo, operation: Callable[[Board, datetime], "Change | NoChange"], *,
         base_ref: str, new_base: str, old_base: str, deadline: float = 60.0) -> str:
    """Move ``base_ref`` from ``old_base`` to ``new_base`` and commit ``operation`` on the board, atomically:
    one :func:`~gitboard.store.transact.transact` with the base riding along (:class:`BaseMove`).

    The board is re-read and ``operation`` re-applied whenever only the board moved. When the
    base moved, nothing is written and :data:`BASE_MOVED` is returned: the caller redoes the
    merge against the new tip.

    Args:
        operation: a pure board operation (typically :func:`~gitboard.board.review_ops.mark_merged`).
        base_ref: ``refs/heads/<base>``.
        deadline: seconds to keep retrying lost races of the board.

    Returns:
        :data:`LANDED` or :data:`BASE_MOVED`.

    Raises:
        Conflict, NotFound, Invalid: the operation's answer (e.g. another queue merged the task),
            or the checked-out base has uncommitted changes in touched files.
        HookRefused: the remote's hook declined the push.
        GitFailure: git failed, or the remote is unreachable or refused the push; nothing moved.
        Busy: the board kept moving until ``deadline`` seconds passed.
    """
    from gitboard.store.transact import MOVED, transact

    def changed(board: Board, now: datetime) -> Change:
        change = operation(board, now)
        if isinstance(change, NoChange):
            raise Conflict("nothing to merge on the board")
        return change

    result = transact(repo, changed, deadline=deadline, also=BaseMove(base_ref, new_base, old_base))
    return BASE_MOVED if result is MOVED else LANDED


def branch_tip(repo: BoardRepo, task: Task, fetch: bool = True) -> tuple[str, str]:
    """Return ``(branch name, tip)`` of a task's branch, fetched first in remote mode.

    Raises:
        NotFound: the branch does not exist (here, or on the remote in remote mode).
        GitFailure: the remote is unreachable.
    """
    name = task_branch(task)
    tip = fetch_branch(repo, name) if fetch else local_branch(repo, name)
    if tip is None and repo.remote and not fetch:
        tip = repo.resolve(f"refs/heads/{name}")
    if tip is None:
        where = f" on {repo.remote}" if repo.remote else ""
        raise NotFound(f"task #{task.id} has no branch {name}{where}")
    return name, tip


__all__ = ["task_branch", "base_branch", "fetch_branch", "local_branch", "MergeTree", "merge_tree",
           "merge_base", "merge_message", "has_write_tree", "merge_in_worktree", "add_worktree", "add_detached_worktree", "write_merge_commit", "changed_paths", "checkout_of",
           "dirty_paths", "check_checkout", "index_lock", "stale_index_lock", "bring_along", "LANDED", "BASE_MOVED", "BaseMove", "land", "branch_tip"]
