"""The rules that tie the board's ``merge`` commits to the base branch. Pure.

A ``merge`` board commit (:func:`gitboard.board.review_ops.mark_merged`) says that task N's
work is on the base, in the merge commit its ``Gitboard-Merge-Commit`` trailer names. The
board's rules (:mod:`gitboard.board.action_rules`) can check the task's side alone; where
the pre-receive hook sees the base branch as well (:mod:`gitboard.store.receive`), it also
checks that the claim is true:

- the named merge commit exists, and is on the base: in the base's new tip of the same push
  (``gitboard merge`` pushes both refs atomically) or already there;
- the task was approved (unless the server's ``git config gitboard.review`` is ``none``);
- the merge commit merges the approved commit: its second parent is the commit the approval
  names (when it names one).

The protected base (``gitboard.hook.protectBase``) holds its merge commits to the last rule
from the other side: :func:`approval_mismatch` is shared.
"""

from __future__ import annotations

from typing import Sequence

from gitboard.board.review_ops import approved_commit, is_approved
from gitboard.board.task import Task


def approval_mismatch(task: Task, merged: str) -> str | None:
    """Why a merge commit whose second parent is ``merged`` does not deliver ``task``'s approved
    commit, or None (it does, or the approval names no commit)."""
    approved = approved_commit(task)
    if approved is not None and merged != approved:
        return f"it merges {merged[:12]}, but task #{task.id} was approved at {approved[:12]}"
    return None


def merge_refusals(task: Task, commit: str, parents: Sequence[str] | None, on_base: bool,
                   require_review: bool = True) -> list[str]:
    """Why the board's record that ``task`` was merged in ``commit`` is false (see the module
    docstring); empty when it holds.

    Args:
        task: the task as the ``merge`` commit leaves it (its review is the approval).
        commit: the merge commit its ``Gitboard-Merge-Commit`` trailer names.
        parents: that commit's parents, or None when no such commit exists.
        on_base: the commit is on the base branch (its tip in this push, or already).
        require_review: the server requires an approval (``gitboard.review`` is not ``none``).
    """
    if parents is None:
        return [f"task #{task.id}'s merge names {commit[:40]!r}, which is no commit here"]
    out = []
    if not on_base:
        out.append(f"task #{task.id}'s merge commit {commit[:12]} is not on the base branch "
                   f"(push it to the base in the same push, as 'gitboard merge' does)")
    if require_review and not is_approved(task):
        out.append(f"task #{task.id} was merged without an approval (gitboard approve {task.id})")
    if len(parents) < 2:
        if approved_commit(task) is not None:
            out.append(f"{commit[:12]} is not a merge of task #{task.id}'s approved commit")
    else:
        why = approval_mismatch(task, parents[1])
        if why:
            out.append(why)
    return out
