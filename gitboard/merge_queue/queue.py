"""The merge queue runner: delivers approved tasks into the base branch, one at a time.

For each candidate (:mod:`gitboard.board.merge_order`), without touching any working tree:

1. fetch (remote mode) and merge the base tip with ``task/<id>`` in the object
   database (``git merge-tree --write-tree``);
2. a conflict sends the task to rework (reason ``conflict``, the paths in the feedback);
3. otherwise write the merge commit ``Merge task #<id>: <subject>`` (trailers
   ``Gitboard-Task``, ``Gitboard-Actor``);
4. run the check command, if any, in a temporary detached worktree of exactly that
   commit (under ``<git-common-dir>/gitboard/tmp/``); a non-zero exit, a timeout or a
   command that cannot start sends the task to rework (reason ``check``: exit code and
   the last :data:`OUTPUT_CHARS` characters of output);
5. on a pass, move the base and mark the task ``merged`` atomically
   (:func:`gitboard.store.merge.land`);
6. a lost race on the base redoes the candidate from step 1 against the new tip.

The base only ever moves to a commit whose exact tree passed the check. Two queues in
two clones merge each task exactly once: landing is one compare-and-swap of both refs.
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

from gitboard import proc as processes
from gitboard.board import merge_order as queue, review_ops
from gitboard.board.errors import Busy, CheckoutDirty, Conflict, GitFailure, HookRefused, Invalid, NotFound
from gitboard.board.names import LEAD, check_name
from gitboard.store import merge as git_merge
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo
from gitboard.client import BoardClient

#: Characters of a failed check's output kept in the rework feedback.
OUTPUT_CHARS = 2000
#: Seconds a check may run (``git config gitboard.checkTimeout`` overrides).
CHECK_TIMEOUT = 600.0
#: Bytes of a check's output kept while it runs (enough for :data:`OUTPUT_CHARS` characters of UTF-8).
_KEPT_BYTES = 4 * OUTPUT_CHARS + 4
#: Seconds between passes of ``--follow``.
DEFAULT_POLL = 2.0
#: Environment variables that would point a check's git at the wrong repository.
_GIT_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
             "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE")


@dataclass(frozen=True)
class CheckResult:
    """One run of the check command.

    Attributes:
        command: the shell command.
        exit_code: its exit status; None if it could not start or timed out.
        seconds: wall time.
        output: the last :data:`OUTPUT_CHARS` characters of stdout and stderr, interleaved.
        reason: "" on a pass, else why it failed (``exit 2``, ``timed out after 600 s``, ``cannot start: ...``).
    """

    command: str
    exit_code: int | None
    seconds: float
    output: str
    reason: str = ""

    @property
    def passed(self) -> bool:
        """True if the command exited 0 in time."""
        return self.exit_code == 0 and not self.reason

    def record(self) -> dict[str, Any]:
        """``{"command", "exit_code", "seconds"}``: what ``result.merge.check`` stores."""
        return {"command": self.command, "exit_code": self.exit_code, "seconds": round(self.seconds, 3)}


def run_check(repo: BoardRepo, commit: str, command: str, *, timeout: float = CHECK_TIMEOUT,
              env: dict[str, str] | None = None, stop: threading.Event | None = None) -> CheckResult:
    """Run ``/bin/sh -c command`` in a temporary detached worktree of ``commit``, then remove it.

    The worktree lives under ``<git-common-dir>/gitboard/tmp/`` (never the user's
    tree). The command runs in its own process group (:func:`gitboard.proc.start`), which is
    ended (SIGTERM, then SIGKILL) on timeout, when ``stop`` is set, and when this process
    dies, even by SIGKILL (``die_with_parent``).

    Args:
        timeout: seconds the command may run.
        env: extra environment variables (``GITBOARD_TASK`` ...).

    Returns:
        The :class:`CheckResult`; a command that cannot start is a failed result, not an error.

    Raises:
        GitFailure: git could not make the worktree.
    """
    path = repo.state_dir("tmp") / f"check-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    git_merge.add_detached_worktree(repo, str(path), commit)
    started = time.monotonic()
    try:
        full_env = {k: v for k, v in os.environ.items() if k not in _GIT_VARS}
        full_env.update(env or {})
        try:
            proc = processes.start(["/bin/sh", "-c", command], cwd=path, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full_env,
                                   die_with_parent=True)
        except OSError as e:
            return CheckResult(command, None, time.monotonic() - started, "", f"cannot start: {e.strerror or e}")
        kept: collections.deque[bytes] = collections.deque()

        def read_output() -> None:
            size = 0
            assert proc.stdout is not None
            while chunk := proc.stdout.read1(65536):
                kept.append(chunk)
                size += len(chunk)
                while size - len(kept[0]) >= _KEPT_BYTES:
                    size -= len(kept.popleft())

        reader = threading.Thread(target=read_output, daemon=True)
        reader.start()
        try:
            waited = processes.wait(proc, timeout=timeout, cancel=stop, tick=0.5, started=started)
        except BaseException:
            processes.end_group(proc, grace=0)
            raise
        reader.join(timeout=5)
        reason = ""
        if waited.how == processes.TIMED_OUT:
            reason = f"timed out after {timeout:g} s"
        elif waited.how == processes.CANCELLED:
            reason = "stopped"
        out = b"".join(kept)
        text = out.decode(errors="replace")[-OUTPUT_CHARS:]
        code = None if reason else proc.returncode
        if not reason and code != 0:
            reason = f"exit {code}" if code is not None and code >= 0 else f"killed by signal {-code}"
            if code == 127:
                reason += " (command not found: it cannot start)"
        return CheckResult(command, code, time.monotonic() - started, text, reason)
    finally:
        repo.git("worktree", "remove", "--force", "--force", str(path), check=False)
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
            repo.git("worktree", "prune", check=False)


def prune_stale_worktrees(repo: BoardRepo) -> list[Path]:
    """Remove the temporary check and merge worktrees (``<git-common-dir>/gitboard/tmp/check-<pid>-*``,
    ``merge-<pid>-*``) of queues whose process ``<pid>`` is gone (killed, even by SIGKILL, before
    its ``finally`` ran), and prune them from ``git worktree list``. Returns the paths removed.
    A worktree of a live process (this one, or another queue) is left alone."""
    tmp = Path(repo.common_dir, "gitboard", "tmp")
    removed: list[Path] = []
    try:
        entries = sorted(tmp.iterdir())
    except OSError:
        return removed
    for path in entries:
        kind, _, rest = path.name.partition("-")
        pid = rest.split("-", 1)[0]
        if kind not in ("check", "merge") or not pid.isdigit():
            continue
        if int(pid) == os.getpid() or processes.pid_alive(int(pid)):
            continue
        repo.git("worktree", "remove", "--force", "--force", str(path), check=False)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    if removed:
        repo.git("worktree", "prune", check=False)
    return removed


@dataclass
class QueueRun:
    """What a run of the queue did; :meth:`to_json` is the ``gitboard merge --json`` document.

    Attributes:
        merged: task ids merged, in order.
        rework: ``{"id", "reason", "paths"}`` for each task sent to rework (``paths``: conflicting
            paths, [] for a check).
        waiting: ids of candidates whose blockers are not merged (as of the last pass).
        skipped: ids another queue merged or sent back first, or whose approval is stale (not
            in the JSON document).
        stale: ``{"id", "approved", "tip"}`` for each candidate whose branch moved on from the
            approved commit (:func:`gitboard.board.merge_order.stale_approval`): not merged, left as
            it is for the lead to review and approve again.
        unapproved: ids of completed tasks that wait for the lead's approval (review required),
            as of the last pass; not candidates.
        no_branch: ids of candidates without a ``task/<id>`` branch (completed by hand, or with
            no committed work): nothing to merge; left completed, their dependents unblocked.
        commits: task id -> the merge commit.
    """

    merged: list[int] = field(default_factory=list)
    rework: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    stale: list[dict[str, Any]] = field(default_factory=list)
    unapproved: list[int] = field(default_factory=list)
    no_branch: list[int] = field(default_factory=list)
    commits: dict[int, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """``{"merged": [id], "rework": [{"id", "reason", "paths"}], "waiting": [id],
        "stale": [{"id", "approved", "tip"}], "unapproved": [id], "no_branch": [id]}``."""
        return {"merged": list(self.merged), "rework": [dict(r) for r in self.rework], "waiting": list(self.waiting),
                "stale": [dict(r) for r in self.stale], "unapproved": list(self.unapproved),
                "no_branch": list(self.no_branch)}


def _seconds(value: str | None) -> float:
    """``git config gitboard.checkTimeout`` as seconds (default :data:`CHECK_TIMEOUT`).

    Raises:
        Invalid: not a positive number.
    """
    if value is None:
        return CHECK_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise Invalid(f"git config gitboard.checkTimeout must be a positive number of seconds, not {value!r}")
    return seconds


def _config(repo: BoardRepo, key: str) -> str | None:
    res = repo.git("config", "--get", key, check=False)
    return res.stdout.decode(errors="replace").strip() or None if res.status == 0 else None


class Refinery:
    """Runs the merge queue of one clone; see the module docstring.

    Args:
        path: any directory of the repository; each pass opens it afresh (no Repo held for long).
        actor: who merges (must be the lead).
        check: the check command; None: ``git config gitboard.check``; "" for none.
        check_timeout: seconds (None: ``git config gitboard.checkTimeout``, else :data:`CHECK_TIMEOUT`).
        log: where each event goes, one line each.
        stop: set it to end ``follow`` (and a running check) cleanly.

    Raises:
        Conflict: ``actor`` is not the lead.
    """

    def __init__(self, path: str | os.PathLike, *, actor: str = LEAD, check: str | None = None,
                 check_timeout: float | None = None, log: Callable[[str], None] = lambda s: None,
                 stop: threading.Event | None = None) -> None:
        check_name(actor)
        if actor != LEAD:
            raise Conflict(f"only the lead may merge ({actor} is not the lead)")
        self.path = str(path)
        self.actor = actor
        self.check = check
        self.check_timeout = check_timeout
        self.log = log
        self.stop = stop or threading.Event()

    # -- one pass ------------------------------------------------------------
    def run(self, ids: Sequence[int] | None = None, *, follow: bool = False, poll: float = DEFAULT_POLL) -> QueueRun:
        """Go through the candidates once (or, with ``follow``, until :attr:`stop` is set).

        With ``follow``, an unreachable remote or a dirty checkout after the first pass is
        logged once and retried every ``poll`` seconds, like a teammate through an outage.

        Raises:
            NotFound: a named id is unknown (exit 4). Conflict: a named task is not completed or
                not approved, or the checked-out base has uncommitted changes to files a merge
                touches (exit 3). GitFailure: the remote is unreachable (exit 1); nothing moved.
        """
        out = QueueRun()
        named = list(dict.fromkeys(ids)) if ids else None
        first = True
        trouble = ""
        while True:
            try:
                with BoardRepo(self.path) as repo:
                    if first:
                        for gone in prune_stale_worktrees(repo):
                            self.log(f"removed the worktree {gone} of a queue that died")
                    self._pass(repo, named, out, validate=first)
                if trouble:
                    self.log("the queue runs again")
                trouble = ""
            except (GitFailure, Busy, CheckoutDirty) as e:
                if not follow or first:
                    raise
                if e.message != trouble:  # an outage, or a dirty checkout: said once, retried every poll
                    self.log(f"cannot merge now ({e.message}); trying again every {poll:g} s")
                trouble = e.message
            first = False
            if not follow or self.stop.wait(poll):
                return out

    def _pass(self, repo: BoardRepo, named: list[int] | None, out: QueueRun, validate: bool) -> None:
        require = queue.review_required(_config(repo, "gitboard.review"))
        board = read_board(repo)
        if validate and named:
            queue.check_named(board, named, require)
        base = git_merge.base_branch(repo)
        check = self.check if self.check is not None else (_config(repo, "gitboard.check") or "")
        timeout = self.check_timeout or _seconds(_config(repo, "gitboard.checkTimeout"))
        todo = queue.candidates(board, named, require)
        out.unapproved = [t.id for t in queue.awaiting_approval(board)] if require and named is None else []
        if not repo.remote:
            self._check_checkout_first(repo, base, todo)
        said, out.waiting = set(out.waiting), []
        for task in todo:
            if self.stop.is_set():
                return
            waits = queue.waiting_on(board, task, out.merged)
            if waits:
                out.waiting.append(task.id)
                if task.id not in said:  # once, not on every pass of --follow
                    self.log(f"waiting #{task.id}: blocked by {', '.join(f'#{b}' for b in waits)} (not merged)")
                continue
            self._candidate(repo, task.id, base, check, timeout, require, out)

    def _check_checkout_first(self, repo: BoardRepo, base: str, todo: list) -> None:
        """Refuse before anything moves when the checked-out base has changes the run would touch."""
        if not todo or git_merge.checkout_of(repo, base) is None:
            return
        tip = git_merge.local_branch(repo, base)
        touched: set[str] = set()
        for task in todo:
            branch = git_merge.local_branch(repo, git_merge.task_branch(task))
            if tip and branch:
                mb = git_merge.merge_base(repo, tip, branch) or tip
                touched |= set(git_merge.changed_paths(repo, mb, branch))
        git_merge.check_checkout(repo, base, touched)

    # -- one candidate ---------------------------------------------------------
    def _candidate(self, repo: BoardRepo, tid: int, base: str, check: str, timeout: float,
                   require: bool, out: QueueRun) -> None:
        phase = queue.QUEUED
        while True:
            board = read_board(repo)
            task = board.tasks.get(tid)
            if task is None or not queue.is_candidate(task, require):
                queue.check_phase(phase, queue.SKIPPED)
                out.skipped.append(tid)
                self.log(f"skipped #{tid}: it is {task.status if task else 'gone'} now")
                return
            phase = queue.check_phase(phase, queue.MERGING)
            base_tip = git_merge.fetch_branch(repo, base)
            if base_tip is None:
                raise NotFound(f"the base branch {base!r} has no commit")
            try:
                branch, tip = git_merge.branch_tip(repo, task)
            except NotFound as e:  # no work on a branch: nothing to merge, and nothing to send back
                queue.check_phase(phase, queue.SKIPPED)
                if tid not in out.no_branch:  # once, not on every pass of --follow
                    out.no_branch.append(tid)
                    self.log(f"not merged #{tid}: {e.message}; nothing to merge, it stays completed")
                return
            stale = queue.stale_approval(task, tip)
            if stale is not None:  # what was approved is not what the branch holds now
                queue.check_phase(phase, queue.SKIPPED)
                out.skipped.append(tid)
                out.stale.append({"id": tid, "approved": task.review.get("commit"), "tip": tip})
                self.log(f"not merged #{tid}: {stale}")
                return
            mt = git_merge.merge_tree(repo, base_tip, tip)
            if not mt.clean:
                feedback = (f"{branch} does not merge cleanly into {base} at {base_tip[:12]}; conflicting paths: "
                            + ", ".join(mt.conflicts) + f". Merge {base} into the branch and resolve them.")
                self._rework(repo, tid, phase, "conflict", list(mt.conflicts), feedback, base_tip, out)
                return
            commit = git_merge.write_merge_commit(repo, mt.tree, base_tip, tip,
                                                  git_merge.merge_message(task, self.actor), self.actor)
            result = None
            if check:
                phase = queue.check_phase(phase, queue.CHECKING)
                self.log(f"checking #{tid}: {check}")
                result = run_check(repo, commit, check, timeout=timeout, stop=self.stop,
                                   env={"GITBOARD_TASK": str(tid), "GITBOARD_MERGE_COMMIT": commit})
                if self.stop.is_set() and not result.passed:
                    return
                if not result.passed:
                    feedback = (f"the check `{check}` failed on the merge of {branch} into {base} at "
                                f"{base_tip[:12]}: {result.reason}\n--- last output ---\n{result.output}")
                    self._rework(repo, tid, phase, "check", [], feedback, base_tip, out)
                    return
            phase = queue.check_phase(phase, queue.LANDING)
            op = partial(review_ops.mark_merged, actor=self.actor, task_id=tid, commit=commit, base=base_tip,
                         check=result.record() if result else None, require_review=require)
            try:
                landed = git_merge.land(repo, op, base_ref=f"refs/heads/{base}", new_base=commit, old_base=base_tip)
            except (CheckoutDirty, HookRefused):  # the remote's hook said no: an answer for the caller
                raise
            except (Conflict, NotFound):  # another queue merged it or sent it back first
                queue.check_phase(phase, queue.SKIPPED)
                out.skipped.append(tid)
                self.log(f"skipped #{tid}: another queue got to it first")
                return
            if landed == git_merge.BASE_MOVED:
                phase = queue.check_phase(phase, queue.QUEUED)
                self.log(f"#{tid}: {base} moved; merging again against the new tip")
                continue
            queue.check_phase(phase, queue.MERGED_PHASE)
            out.merged.append(tid)
            out.commits[tid] = commit
            self.log(f"merged #{tid} into {base}: {commit[:12]} Merge task #{tid}: {task.subject}")
            return

    def _rework(self, repo: BoardRepo, tid: int, phase: str, reason: str, paths: list[str], feedback: str,
                base_tip: str, out: QueueRun) -> None:
        try:
            BoardClient(repo.cwd, self.actor).apply(partial(review_ops.rework, actor=self.actor, task_id=tid, reason=reason,
                                   feedback=feedback, base=base_tip), repo=repo)
        except HookRefused:
            raise
        except (Conflict, NotFound):
            queue.check_phase(phase, queue.SKIPPED)
            out.skipped.append(tid)
            self.log(f"skipped #{tid}: another queue got to it first")
            return
        queue.check_phase(phase, queue.REWORK)
        out.rework.append({"id": tid, "reason": reason, "paths": paths})
        self.log(f"rework #{tid} ({reason}): " + (", ".join(paths) if paths else feedback.splitlines()[0]))


def run_queue(repo: BoardRepo | str | os.PathLike, ids: Sequence[int] | None = None, *, check: str | None = None,
              actor: str = LEAD, follow: bool = False, poll: float = DEFAULT_POLL,
              check_timeout: float | None = None, log: Callable[[str], None] = lambda s: None,
              stop: threading.Event | None = None) -> dict[str, Any]:
    """Run the merge queue and return the ``gitboard merge --json`` document:
    ``{"merged": [id], "rework": [{"id", "reason", "paths"}], "waiting": [id]}``.

    Args:
        repo: an open :class:`BoardRepo` or a directory of the repository.
        ids: the tasks to merge (None: every candidate).
        check: the check command (None: ``git config gitboard.check``; "" for none).

    Raises:
        See :meth:`Refinery.run`; also Conflict when ``actor`` is not the lead.
    """
    path = repo.cwd if isinstance(repo, BoardRepo) else str(repo)
    refinery = Refinery(path, actor=actor, check=check, check_timeout=check_timeout, log=log, stop=stop)
    return refinery.run(ids, follow=follow, poll=poll).to_json()


__all__ = ["CheckResult", "run_check", "prune_stale_worktrees", "QueueRun", "Refinery", "run_queue", "OUTPUT_CHARS", "CHECK_TIMEOUT"]
