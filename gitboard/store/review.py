"""What the lead needs to judge a task's work: :func:`review_task`, read-only; and
:func:`approve_task`, which approves it at a commit of its branch.

It reads the board, the base branch and ``task/<id>`` (fetching both first in
remote mode), and returns the ``gitboard review --json`` document. No ref is
moved; ``git merge-tree --write-tree`` only adds objects to the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitboard.board.errors import GitFailure
from gitboard.store.merge import base_branch, branch_tip, task_branch, fetch_branch, local_branch, merge_base, merge_tree
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo

if TYPE_CHECKING:
    from gitboard.board.task import Task

#: Characters of ``--patch`` output kept in the JSON document's ``patch``.
PATCH_CHARS = 1_000_000


def _numstat(repo: BoardRepo, old: str, new: str) -> list[dict[str, Any]]:
    raw = repo.git("diff", "--numstat", "-z", "--no-renames", old, new).stdout.decode(errors="surrogateescape")
    files = []
    for rec in raw.split("\0"):
        if not rec:
            continue
        added, deleted, path = rec.split("\t", 2)
        files.append({"path": path, "added": int(added) if added.isdigit() else None,
                      "deleted": int(deleted) if deleted.isdigit() else None})
    return files


def _commits(repo: BoardRepo, base: str, tip: str) -> list[dict[str, str]]:
    raw = repo.git("log", "--format=%H%x00%s", f"{base}..{tip}").stdout.decode(errors="replace")
    return [{"commit": c, "subject": s} for c, _, s in (ln.partition("\0") for ln in raw.splitlines() if ln)]


def review_task(repo: BoardRepo, task_id: int, *, patch: bool = False, fetch: bool = True) -> dict[str, Any]:
    """Return the review of task ``task_id``: the ``gitboard review --json`` document.

    Shape::

        {"task": task object, "base": {"branch": str, "commit": str},
         "branch": {"name": str, "commit": str}, "merge_base": str or null,
         "commits": [{"commit", "subject"}] (on the branch, not on the base; newest first),
         "files": [{"path", "added", "deleted"}] (from the merge base; null counts for binary files),
         "mergeable": bool, "conflicts": [path],
         "merged": null or {"commit": str, "base": str, "subject": str}}

    With ``patch``, also ``"patch"``: the diff from the merge base to the branch.

    A merged task whose merge commit (``result.merge.commit``) is here is reviewed as it
    landed: ``merged`` names the merge commit and the base commit it was made on,
    ``base.commit`` is that base commit, ``branch.commit`` the merge's second parent (the
    task's work as merged), and the commits and files are what the merge brought in.

    Args:
        fetch: in remote mode, fetch the board, the base and the branch first.

    Raises:
        NotFound: no such task, or it has no branch.
        GitFailure: no base branch, git failed, or the remote is unreachable.
    """
    board = read_board(repo, fresh=fetch)
    task = board.task(task_id)
    base_name = base_branch(repo)
    base = fetch_branch(repo, base_name) if fetch else local_branch(repo, base_name)
    if base is None:
        raise GitFailure(f"the base branch {base_name!r} has no commit")
    landed = _landed(repo, task)
    if landed is not None:
        merge, base, tip = landed
        name = task_branch(task)
    else:
        merge = None
        name, tip = branch_tip(repo, task, fetch=fetch)
    mb = merge_base(repo, base, tip)
    merged = merge_tree(repo, base, tip)
    doc: dict[str, Any] = {
        "task": task.to_json(),
        "base": {"branch": base_name, "commit": base},
        "branch": {"name": name, "commit": tip},
        "merge_base": mb,
        "commits": _commits(repo, base, tip),
        "files": _numstat(repo, mb or base, tip),
        "mergeable": merged.clean,
        "conflicts": list(merged.conflicts),
        "merged": merge,
    }
    if patch:
        doc["patch"] = repo.git("diff", "--no-color", mb or base, tip).stdout.decode(errors="replace")[:PATCH_CHARS]
    return doc


def _landed(repo: BoardRepo, task: "Task") -> tuple[dict[str, str], str, str] | None:
    """``({"commit", "base", "subject"}, base commit, task tip as merged)`` of a merged task
    whose merge commit (two parents) is in this repository, else None."""
    merge = task.result.get("merge") if task.status == "merged" and isinstance(task.result, dict) else None
    commit = merge.get("commit") if isinstance(merge, dict) else None
    if not isinstance(commit, str) or repo.resolve(commit) is None:
        return None
    res = repo.git("log", "-1", "--format=%P%x00%s", commit, check=False)
    parents, _, subject = res.stdout.decode(errors="replace").rstrip("\n").partition("\0")
    ids = parents.split()
    if res.status != 0 or len(ids) != 2:
        return None
    return {"commit": repo.resolve(commit), "base": ids[0], "subject": subject}, ids[0], ids[1]


def approve_task(repo: BoardRepo, actor: str, task_id: int, note: str | None = None,
                 rev: str | None = None, fetch: bool = True) -> "Task":
    """Approve task ``task_id`` at a commit of its branch, in one board commit; return the task.

    The approval names the commit the merge queue will merge (``review.commit``): ``rev``
    resolved to a full id, which must be on ``task/<id>`` (its tip or an ancestor), else the
    branch's tip (fetched first in remote mode). A task without a branch (completed by hand,
    or with no committed work) has nothing to review or merge, and is not approved: it stays
    completed, and its dependents are unblocked already.

    Raises:
        NotFound: no such task, or it has no branch.
        Invalid: ``rev`` names no commit, or one that is not on the task's branch.
        Conflict: ``actor`` is not the lead, or the task is not completed.
        GitFailure: git failed, or the remote is unreachable.
    """
    from functools import partial

    from gitboard.board import review_ops
    from gitboard.board.errors import Invalid, NotFound
    from gitboard.store.transact import transact

    task = read_board(repo, fresh=fetch).task(task_id)
    try:
        name, tip = branch_tip(repo, task, fetch=fetch)
    except NotFound as e:
        if task.status == "completed" or rev is not None:
            raise NotFound(f"{e.message}: nothing to review or merge") from None
        name, tip = None, None  # not completed: the approval itself says why not
    commit = tip
    if rev is not None:
        commit = repo.resolve(f"{rev}^{{commit}}")
        if commit is None:
            raise Invalid(f"--commit {rev!r} names no commit")
        if commit != tip and not repo.is_ancestor(commit, tip):
            raise Invalid(f"--commit {rev!r} ({commit[:12]}) is not on {name} (at {tip[:12]})")
    return transact(repo, partial(review_ops.approve, actor=actor, task_id=task_id, note=note, commit=commit))
