"""What happens when a task's work ends -- done by the harness, never by the model.

1. :func:`commit_work` commits everything in the worktree as
   ``task #<id>: <subject>`` with the trailers ``Gitboard-Task`` and
   ``Gitboard-Actor`` (an empty commit if nothing changed, so every finished
   task has its commit);
2. :func:`push_branch` pushes ``task/<id>`` when a remote is configured,
   retrying through outages;
3. :func:`task_result` builds the result the ``done`` (or ``fail``) commit
   stores: ``{"branch", "commit", "summary", "usage": {...}}``, plus
   ``"reason"`` and the agent's details when the work failed.

The loop (:mod:`gitboard.team.loop`) then finishes the task on the board and
removes the worktree; the branch stays.
"""

from __future__ import annotations

from typing import Any

from gitboard.board.errors import GitFailure
from gitboard.board.task import Task
from gitboard.store import git as gitcmd
from gitboard.store import remote as remote_ops
from gitboard.store.repo import BoardRepo
from gitboard.team.agent import Outcome
from gitboard.team.port import BoardPort
from gitboard.team.worktree import NO_SIGN, Worktree

#: Characters of an agent's summary kept in a commit message body.
BODY_CHARS = 4000


def commit_message(task: Task, actor: str, body: str = "") -> str:
    """Return ``task #<id>: <subject>``, an optional body, and the trailers
    ``Gitboard-Task: <id>`` and ``Gitboard-Actor: <actor>``."""
    subject = " ".join(task.subject.split())
    parts = [f"task #{task.id}: {subject}"]
    body = body.strip()
    if body:
        parts += ["", body[:BODY_CHARS]]
    parts += ["", f"Gitboard-Task: {task.id}\nGitboard-Actor: {actor}"]
    return "\n".join(parts) + "\n"


def commit_work(repo: BoardRepo, wt: Worktree, task: Task, actor: str, body: str = "") -> str:
    """Commit all changes in the worktree (``git add -A``) on its branch; return the commit id.

    The commit is made even when nothing changed (``--allow-empty``), with the
    repository's identity environment (no git identity needed), without hooks
    or signing.

    Raises:
        GitFailure: git refused (a corrupt worktree ...).
    """
    env = repo.identity_env(actor)
    cwd = str(wt.path)
    gitcmd.run(cwd, ["add", "-A"], env=env)
    gitcmd.run(cwd, [*NO_SIGN, "commit", "-q", "--allow-empty", "--no-verify", "-F", "-"],
               input=commit_message(task, actor, body).encode(), env=env)
    return gitcmd.run(cwd, ["rev-parse", "HEAD"]).stdout.decode().strip()


def push_branch(port: BoardPort, branch: str, commit: str) -> bool | None:
    """Push ``commit`` to ``refs/heads/<branch>`` on the board's remote, without force.

    Retries through outages (:meth:`BoardPort.persist`). Returns None with no
    remote configured, True when pushed, False when the remote refused it
    because its branch has moved on (someone else pushed it); the commit stays local.

    Raises:
        GitFailure: the teammate was told to stop while the remote was unreachable.
    """
    def attempt() -> bool | None:
        with port.open() as repo:
            if not repo.remote:
                return None
            return remote_ops.push(repo, commit, f"refs/heads/{branch}")

    try:
        pushed = port.persist(f"push of {branch}", attempt)
    except GitFailure:
        raise
    if pushed is False:
        port.log(f"push of {branch} refused: the remote's {branch} has moved on; {commit[:12]} stays local")
    elif pushed:
        port.log(f"pushed {branch} ({commit[:12]})")
    return pushed


def task_result(wt: Worktree | None, commit: str | None, outcome: Outcome) -> dict[str, Any]:
    """Return the task result: ``{"branch", "commit", "summary", "usage": {...}}``, and when the
    work failed also ``"reason"`` and the agent's ``details`` (exit code, output tail ...)."""
    result: dict[str, Any] = {"branch": wt.branch if wt else None, "commit": commit,
                              "summary": outcome.summary, "usage": outcome.usage.to_json()}
    if not outcome.ok:
        result["reason"] = outcome.reason or "failed"
    details = getattr(outcome, "details", None) or {}
    for k, v in details.items():
        result.setdefault(k, v)
    return result
