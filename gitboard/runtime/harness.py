"""What happens when a task's work ends -- done by the harness, never by the model.

1. :func:`commit_work` commits everything in the worktree as
   ``task #<id>: <subject>`` with the trailers ``Gitboard-Task`` and
   ``Gitboard-Actor`` (an empty commit if nothing changed, so every finished
   task has its commit); a stale ``index.lock`` left by the agent is worked
   around with a private index. If no commit can be made, the task is *not*
   completed: the loop fails it with the reason and keeps the worktree, with
   the work in it, for inspection;
2. :func:`push_branch` pushes ``task/<id>`` when a remote is configured,
   retrying through outages. A task is completed only once its commit is on the
   remote's ``task/<id>``: a refused push fails the task with the reason, the commit
   kept under a backup ref (:mod:`gitboard.runtime.backup`);
3. :func:`task_result` builds the result the ``done`` (or ``fail``) commit
   stores: ``{"branch", "commit", "summary", "usage": {...}}``, plus
   ``"reason"`` and the agent's details when the work failed.

The teammate (:mod:`gitboard.runtime.work`) then finishes the task on the board and
removes the worktree; the branch stays.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Callable

from gitboard.board.errors import GitFailure, HookRefused
from gitboard.board.task import Task
from gitboard.store import git as gitcmd
from gitboard.store import remote as remote_ops
from gitboard.store.merge import fetch_branch
from gitboard.store.repo import BoardRepo
from gitboard.agents.base import Outcome
from gitboard.runtime.port import BoardPort
from gitboard.runtime.worktree import NO_SIGN, Worktree

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


def commit_work(repo: BoardRepo, wt: Worktree, task: Task, actor: str, body: str = "",
                log: Callable[[str], None] | None = None) -> str:
    """Commit all changes in the worktree (``git add -A``) on its branch; return the commit id.

    The commit is made even when nothing changed (``--allow-empty``), with the
    repository's identity environment (no git identity needed), without hooks
    or signing.

    If the ordinary commit fails -- typically the worktree's ``index.lock`` was
    left behind by the agent (a killed ``git``, or a command that created it) --
    the same snapshot is committed through a private index instead
    (:func:`_commit_snapshot`): nobody's lock is deleted, and the worktree's own
    index is left as it was. Only if that fails too does it raise.

    Args:
        log: where to say that the fallback was used (one line), if anywhere.

    Raises:
        GitFailure: git refused both ways (the message gives both reasons); the
            work stays, uncommitted, in the worktree.
    """
    env = repo.identity_env(actor)
    cwd = str(wt.path)
    message = commit_message(task, actor, body).encode()
    try:
        gitcmd.run(cwd, ["add", "-A"], env=env)
        gitcmd.run(cwd, [*NO_SIGN, "commit", "-q", "--allow-empty", "--no-verify", "-F", "-"],
                   input=message, env=env)
        return gitcmd.run(cwd, ["rev-parse", "HEAD"]).stdout.decode().strip()
    except GitFailure as first:
        try:
            commit = _commit_snapshot(repo, wt, message, env)
        except GitFailure as second:
            raise GitFailure(f"{first.message}; committing through a private index failed too: "
                             f"{second.message}") from None
        if log is not None:
            log(f"the ordinary commit failed ({first.message}); committed through a private index instead")
        return commit


def _commit_snapshot(repo: BoardRepo, wt: Worktree, message: bytes, env: dict[str, str]) -> str:
    """Commit the worktree's files as they are, without touching its index or its ``index.lock``.

    A private index (under ``<git-common-dir>/gitboard/tmp/``) is loaded from ``HEAD``,
    ``git add -A`` fills it from the worktree (``.gitignore`` honoured), and the tree is
    committed with ``HEAD`` as parent. The branch ``HEAD`` names is then moved by
    compare-and-swap (``git update-ref <ref> <new> <old>``), so a branch that moved
    meanwhile is never overwritten. Returns the new commit id.

    Raises:
        GitFailure: git refused (the ref is locked or moved, the worktree is broken ...).
    """
    cwd = str(wt.path)
    head = gitcmd.run(cwd, ["rev-parse", "--verify", "-q", "HEAD"], check=False)
    old = head.stdout.decode().strip() if head.status == 0 else ""
    sym = gitcmd.run(cwd, ["symbolic-ref", "-q", "HEAD"], check=False)
    ref = sym.stdout.decode().strip() if sym.status == 0 else "HEAD"
    fd, index = tempfile.mkstemp(prefix=f"index-{wt.path.name}-", dir=repo.state_dir("tmp"))
    os.close(fd)
    os.unlink(index)  # git wants to create it itself
    ienv = {**env, "GIT_INDEX_FILE": index}
    try:
        if old:
            gitcmd.run(cwd, ["read-tree", old], env=ienv)
        gitcmd.run(cwd, ["add", "-A"], env=ienv)
        tree = gitcmd.run(cwd, ["write-tree"], env=ienv).stdout.decode().strip()
        parents = ["-p", old] if old else []
        commit = gitcmd.run(cwd, [*NO_SIGN, "commit-tree", tree, *parents, "-F", "-"], input=message,
                            env=env).stdout.decode().strip()
        first_line = message.decode(errors="replace").splitlines()[0]
        gitcmd.run(cwd, ["update-ref", "-m", f"commit: {first_line}", ref, commit, old or "0" * 40], env=env)
        return commit
    finally:
        for leftover in (index, index + ".lock"):
            try:
                os.unlink(leftover)
            except OSError:
                pass


def push_branch(port: BoardPort, branch: str, commit: str) -> bool | None:
    """Push ``commit`` to ``refs/heads/<branch>`` on the board's remote, without force.

    Retries through outages (:meth:`BoardPort.persist`). Returns None with no
    remote configured, True when pushed, False when the remote refused it
    because its branch has moved on (someone else pushed it) or its pre-receive
    hook declined it (logged with the hook's reason, never retried); the commit stays local.

    Raises:
        GitFailure: the teammate was told to stop while the remote was unreachable.
    """
    return push_or_refusal(port, branch, commit)[0]


def push_or_refusal(port: BoardPort, branch: str, commit: str,
                    before: Callable[[], object] | None = None) -> tuple[bool | None, str]:
    """:func:`push_branch`, returning ``(pushed, why)``: ``why`` says why the remote refused
    (``""`` unless ``pushed`` is False).

    A refusal is checked against the remote: if its branch holds ``commit`` after all (an
    earlier attempt landed although its answer was lost), the push counts as made.

    Args:
        before: called before each attempt (the teammate renews its claim there, so that
            one that lost the task during an outage never pushes its branch); what it raises
            propagates, except GitFailure and Busy, which are retried like the push.

    Raises:
        GitFailure: the teammate was told to stop while the remote was unreachable.
    """
    def attempt() -> bool | None:
        if before is not None:
            before()
        with port.open() as repo:
            if not repo.remote:
                return None
            return remote_ops.push(repo, commit, f"refs/heads/{branch}")

    def landed() -> bool:
        with port.open() as repo:
            tip = fetch_branch(repo, branch)
            return bool(tip) and (tip == commit or repo.git("merge-base", "--is-ancestor", commit, tip,
                                                             check=False).status == 0)

    try:
        pushed = port.persist(f"push of {branch}", attempt)
        why = f"refused: the remote's {branch} has moved on"
    except HookRefused as e:
        pushed, why = False, f"refused by the remote's hook ({e.message})"
    if pushed is False and port.persist(f"reading the remote's {branch}", landed):
        pushed, why = True, ""
    if pushed is False:
        port.log(f"push of {branch} {why}; {commit[:12]} stays local")
    elif pushed:
        port.log(f"pushed {branch} ({commit[:12]})")
    return pushed, why if pushed is False else ""


def task_result(wt: Worktree | None, commit: str | None, outcome: Outcome) -> dict[str, Any]:
    """Return the task result: ``{"branch", "commit", "summary", "usage": {...}}``, and when the
    work failed also ``"reason"`` and the agent's ``details`` (exit code, output tail ...)."""
    result: dict[str, Any] = {"branch": wt.branch if wt else None, "commit": commit,
                              "summary": outcome.summary, "usage": outcome.usage.to_json()}
    if not outcome.ok:
        result["reason"] = outcome.reason or "failed"
    details = outcome.details or {}
    for k, v in details.items():
        result.setdefault(k, v)
    return result
