"""WORK on one claimed task: its worktree, lease renewal, the agent, then the harness.

Mixed into :class:`gitboard.runtime.loop.Teammate`, which owns the idle state machine; this
module owns what happens between a claim and ``done``/``fail``/``release``:

    worktree (task/<id>) -> Renewer (lease every lease/3) -> agent.run(ctx)
      -> harness: commit, push, done/fail with the result, remove the worktree (the branch stays)

No work is lost: a task is marked done only with its commit, and in remote mode only once
that commit is on the remote's ``task/<id>``; work that cannot be committed fails the task
with the reason and keeps its worktree, and a commit the remote refuses fails the task with
the reason, kept under a backup ref (:mod:`gitboard.runtime.backup`). A task whose branch the user has
checked out is released, not failed. A lease lost while working stops the command and
leaves the branch and worktree to the new owner.

What the mixin needs from the teammate that mixes it in is stated by :class:`Host`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Protocol

from gitboard.board.errors import BoardError, Busy, Conflict, GitFailure, NotFound
from gitboard.board.snapshot import Board
from gitboard.board.task import Task
from gitboard.board.roster_ops import IDLE, SHUTDOWN
from gitboard.runtime import backup, harness, rework
from gitboard.agents.base import Agent, AgentContext, Outcome
from gitboard.agents.outage import Outage
from gitboard.runtime.port import BoardPort
from gitboard.runtime.worktree import BranchCheckedOut, MergeConflict, Worktree, WorktreeError, prepare, remove


class Unpushed(Exception):
    """The task's work is committed but not on the remote's ``task/<id>``.

    Attributes:
        commit: the local commit.
        why: the remote's refusal, or why pushing was given up.
        kept: the backup ref keeping ``commit`` when the remote refused it; None when pushing
            was given up (the teammate stops during an outage; the commit stays on the local branch).
        lost: the task is no longer this teammate's (taken over): nothing was pushed.
    """

    def __init__(self, commit: str, why: str, kept: str | None, lost: bool = False) -> None:
        super().__init__(why)
        self.commit = commit
        self.why = why
        self.kept = kept
        self.lost = lost


class Renewer:
    """Renews this teammate's lease on ``task_id`` (and on tasks its agent claimed) every ``lease/3`` seconds,
    on a thread of its own.

    Attributes:
        lost: why the task stopped being ours (set, with ``port.cancel``, when a renewal is refused).
    """

    def __init__(self, port: BoardPort, task_id: int, lease: float) -> None:
        self.port = port
        self.task_id = task_id
        self.interval = max(lease / 3.0, 0.05)
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"renew-{task_id}", daemon=True)

    def start(self) -> "Renewer":
        """Start renewing; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop renewing (waits for a renewal in flight)."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        wait = self.interval
        while not self._stop.wait(wait):
            wait = self.interval
            for tid in sorted({self.task_id} | set(self.port.claimed)):
                try:
                    self.port.renew(tid)
                except (Conflict, NotFound) as e:
                    if tid == self.task_id:
                        self.lost = e.message
                        self.port.log(f"lost #{tid}: {e.message}")
                        self.port.cancel.set()
                        return
                    self.port.claimed.discard(tid)
                except (GitFailure, Busy) as e:
                    self.port.log(f"cannot renew the lease on #{tid} ({e.message}); retrying")
                    wait = min(self.interval, 2.0)
                except BoardError as e:
                    self.port.log(f"cannot renew the lease on #{tid}: {e.message}")



class StallWatch:
    """Stops an agent that has shown no sign of life for ``timeout`` seconds, on a thread of its own.

    Activity is anything that moves ``port.last_activity``: a line in the teammate's log (the
    anthropic agent logs every tool call, the command runner every line of output) or
    :meth:`BoardPort.touch`. Generic on purpose: every agent gets it. A lease only protects
    against a dead process; a hung agent keeps renewing it.

    Attributes:
        stalled: why the agent was stopped (``stalled: no output and no tool call for N s``), or None.
    """

    def __init__(self, port: BoardPort, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self.stalled: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-watch", daemon=True)

    def start(self) -> "StallWatch":
        """Start watching (activity counts from now); returns self."""
        self.port.touch()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        interval = min(max(self.timeout / 10.0, 0.05), 5.0)
        while not self._stop.wait(interval):
            last = self.port.last_activity
            if last is None:
                return
            quiet = time.monotonic() - last
            if quiet >= self.timeout:
                self.stalled = f"stalled: no output and no tool call for {quiet:.0f} s (--stall-timeout {self.timeout:g})"
                self.port.log(f"{self.stalled}; stopping the agent")
                self.port.cancel.set()
                return


class Host(Protocol):
    """What :class:`TaskWork` and :class:`gitboard.runtime.inbox_session.InboxSession` need from the
    teammate they are mixed into (:class:`gitboard.runtime.loop.Teammate` provides all of it).

    Attributes:
        s: the teammate's :class:`~gitboard.runtime.loop.Settings` (name, role, lease, timeouts ...).
        agent: how it does the work.
        port: its board.
        state_dir: ``<git-common-dir>/gitboard``.
        stopping: set when the teammate is to stop after the work in hand.
        _current: the task in hand and its worktree, for giving it back after an internal error.
        _idle_logged: the idle line was logged (cleared when work starts).
        _stalled: tasks released as stalled, left to others.
        _inbox_outage: logs a failing inbox read once per outage.
    """

    s: Any
    agent: Agent
    port: BoardPort
    state_dir: Path
    stopping: bool
    _current: tuple[Task, Worktree | None] | None
    _idle_logged: bool
    _stalled: set[int]
    _inbox_outage: Outage

    def log(self, line: str) -> None:
        """Write one line to the teammate's log."""

    def _read(self) -> Board | None:
        """The board, or None through an outage (logged)."""

    def _status(self, status: str, task: Any, persist: bool = False) -> None:
        """Set the member's status on the board (``persist``: retry through outages)."""


class TaskWork(Host):
    """The WORK half of a teammate (a mixin of :class:`gitboard.runtime.loop.Teammate`; needs :class:`Host`)."""

    #: the conflicted paths a rework merge left to resolve (none until a rework starts)
    _rework_conflicts: tuple[str, ...] = ()

    def _team_name(self) -> str:
        board = self._read()
        return board.team.team_name if board is not None else ""

    def _context(self, task: dict, worktree: Path, team_name: str, messages: list[dict]) -> AgentContext:
        s = self.s
        env = {"GITBOARD_ACTOR": s.name, "GITBOARD_TASK": str(task.get("id") or ""),
               "GITBOARD_TASK_SUBJECT": str(task.get("subject", "")), "GITBOARD_WORKTREE": str(worktree),
               "GITBOARD_TEAM": team_name}
        if task.get("id"):
            env["GITBOARD_BRANCH"] = f"task/{task['id']}"
        if s.role:
            env["GITBOARD_ROLE"] = s.role
        return AgentContext(name=s.name, role=s.role, team_name=team_name, task=task, worktree=worktree,
                            state_dir=self.state_dir, port=self.port, prompt=s.prompt, model=s.model,
                            max_turns=s.max_turns, poll=s.poll, messages=messages, env=env,
                            budget_usd=s.budget_usd, budget_tokens=s.budget_tokens,
                            plan_first=s.plan_first and bool(task.get("id")))

    def _run_agent(self, ctx: AgentContext) -> Outcome:
        try:
            return self.agent.run(ctx)
        except Exception as e:  # an agent must not raise; if it does, the task fails, not the teammate
            return Outcome(ok=False, reason=f"agent error: {type(e).__name__}: {e}")

    def _work(self, task: Task) -> None:
        """Work on a claimed task: worktree, lease renewal, agent, then the harness.

        Its branch checked out elsewhere in this clone (:class:`BranchCheckedOut`) releases
        the task rather than failing it: the task is fine, and a teammate of another clone, or
        this one once the user checks out another branch, can do it.
        """
        self._idle_logged = False
        if not self.port.abort.is_set():  # a stop that came during the claim still stops the work
            self.port.cancel.clear()
        self._current = (task, None)
        self._work_on(task)  # an exception leaves _current set, for run() to give the task back
        self._current = None

    def _work_on(self, task: Task) -> None:
        board = self._read()
        if board is None:
            try:
                board = self.port.persist("reading the board", self.port.board)
            except (GitFailure, Busy):
                self.stopping = True
                return

        def make() -> Worktree:
            with self.port.open() as repo:
                return prepare(repo, task, board, actor=self.s.name, log=self.log)

        try:
            wt = self.port.persist(f"worktree of #{task.id}", make)
        except BranchCheckedOut as e:
            self.log(f"cannot work on #{task.id}: {e.message}")
            try:
                self.port.release(task.id)
                self.log(f"released #{task.id}; not claiming it here while {e.branch} stays checked out")
            except BoardError as e2:
                self.log(f"cannot release #{task.id}: {e2.message}; it stays claimed until its lease expires")
                self._status(IDLE, None)
            return
        except MergeConflict as e:
            self.log(e.message)
            self._finish(task, None, Outcome(ok=False, reason=e.message, details={"conflicts": e.files}))
            return
        except WorktreeError as e:
            self.log(e.message)
            self._finish(task, None, Outcome(ok=False, reason=e.message))
            return
        except (GitFailure, Busy):
            self.log(f"stopped while the remote was unreachable; #{task.id} stays claimed until its lease expires")
            self.stopping = True
            return
        self._current = (task, wt)
        task_json = task.to_json()
        self._rework_conflicts: tuple[str, ...] = ()
        if rework.needs_rework(task) and wt.continued:
            def bring_base() -> rework.ReworkStart:
                with self.port.open() as repo:
                    return rework.start(repo, wt, task, board, actor=self.s.name,
                                        restart=self.agent.restarts_rework, log=self.log)

            try:
                started = self.port.persist(f"rework of #{task.id}", bring_base)
            except WorktreeError as e:
                self.log(e.message)
                self._finish(task, wt, Outcome(ok=False, reason=e.message))
                return
            except (GitFailure, Busy):
                self.log(f"stopped while the remote was unreachable; #{task.id} stays claimed until its lease expires")
                self.stopping = True
                return
            task_json["rework_start"] = started.to_json()
            self._rework_conflicts = started.conflicts
        renewer = Renewer(self.port, task.id, self.s.lease).start()
        watch = StallWatch(self.port, self.s.stall_timeout).start()
        try:
            ctx = self._context(task_json, wt.path, board.team.team_name, self.port.take_held())
            outcome = self._run_agent(ctx)
        finally:
            watch.stop()
            renewer.stop()
        if watch.stalled and not renewer.lost and not self.port.abort.is_set() and not outcome.ok:
            if not outcome.shutdown:
                self.port.cancel.clear()
            outcome.reason = watch.stalled
            self._stalled.add(task.id)
            self._release(task, wt, outcome, stop=outcome.shutdown or self.port.shutdown_approved)
            return
        if renewer.lost:
            self.log(f"leaving {wt.branch} and its worktree to #{task.id}'s new owner")
            if not self.port.abort.is_set():
                self.port.cancel.clear()
            self._status(IDLE, None)
            return
        if self.port.shutdown_approved:
            outcome.shutdown = True
        if (outcome.shutdown or self.port.abort.is_set()) and not outcome.ok:
            self._release(task, wt, outcome)
        else:
            self._finish(task, wt, outcome)

    def _commit_and_push(self, task: Task, wt: Worktree, body: str) -> tuple[str | None, str]:
        """Commit the worktree's work (:func:`harness.commit_work`) and push the branch.

        Returns ``(commit, "")`` once the commit is on the remote's ``task/<id>`` (or at once
        without a remote), or ``(None, why)`` when no commit could be made (the work then
        stays, uncommitted, in the worktree).

        Raises:
            Unpushed: committed, but the commit is not on the remote: the remote refused the
                push (the commit is then kept under a backup ref), or the teammate was told
                to stop while the remote was unreachable.
        """
        try:
            with self.port.open() as repo:
                commit = harness.commit_work(repo, wt, task, self.s.name, body, log=self.log)
        except GitFailure as e:
            self.log(f"cannot commit the work of #{task.id}: {e.message}")
            return None, e.message
        self.log(f"committed {wt.branch} ({commit[:12]})")
        with self.port.open() as repo:
            remote = bool(repo.remote)
        try:  # in remote mode the claim is renewed before each attempt: a teammate that lost it never pushes
            pushed, why = harness.push_or_refusal(self.port, wt.branch, commit,
                                                  before=(lambda: self.port.renew(task.id)) if remote else None)
        except (Conflict, NotFound) as e:  # taken over (say while this teammate was cut off): not ours to push
            self.log(f"not pushing {wt.branch}: #{task.id} is no longer mine ({e.message}); "
                     f"{commit[:12]} stays on the local {wt.branch}")
            raise Unpushed(commit, e.message, None, lost=True) from None
        except GitFailure as e:
            self.log(f"gave up pushing {wt.branch} ({e.message}); {commit[:12]} stays on the local {wt.branch}")
            raise Unpushed(commit, e.message, None) from None
        if pushed is False:
            with self.port.open() as repo:
                kept = backup.keep(repo, task.id, commit, actor=self.s.name)
            self.log(f"kept {commit[:12]} under {kept}")
            raise Unpushed(commit, f"push of {wt.branch} {why}", kept)
        return commit, ""

    def _uncommitted(self, task: Task, wt: Worktree, outcome: Outcome, why: str) -> Outcome:
        """The Outcome of work that could not be committed: failed, naming the worktree that holds it."""
        reason = (f"cannot commit the work: {why}; the work is kept, uncommitted, in the worktree {wt.path} "
                  f"(branch {wt.branch})")
        if not outcome.ok and outcome.reason:
            reason += f"; before that: {outcome.reason}"
        details = {**(outcome.details or {}), "worktree": str(wt.path)}
        return Outcome(ok=False, summary=outcome.summary, usage=outcome.usage, reason=reason,
                       shutdown=outcome.shutdown, details=details)

    def _unpushed(self, wt: Worktree, outcome: Outcome, e: "Unpushed") -> Outcome:
        """The Outcome of work committed but refused by the remote: failed, naming the backup ref
        that keeps it (the result's ``commit`` stays empty: the remote lacks it)."""
        reason = (f"{e.why}; the work ({e.commit[:12]}) is kept in this clone under {e.kept}, "
                  f"not on the remote's {wt.branch}")
        if not outcome.ok and outcome.reason:
            reason += f"; before that: {outcome.reason}"
        details = {**(outcome.details or {}), "backup": e.kept, "unpushed": e.commit}
        return Outcome(ok=False, summary=outcome.summary, usage=outcome.usage, reason=reason,
                       shutdown=outcome.shutdown, details=details)

    def _release(self, task: Task, wt: Worktree, outcome: Outcome, stop: bool = True) -> None:
        """Stopping mid-task: commit the work so far, push it, release the task for someone else.

        If the work so far cannot be committed the task is failed instead (a takeover
        elsewhere would start without it), with the reason, and the worktree is kept. A
        commit the remote refuses is kept under a backup ref (logged) and the task is released
        all the same: the next owner continues from the remote's branch.

        Args:
            stop: the teammate stops afterwards (a signal, a shutdown); False after a stall,
                when it goes back to idle (and does not claim that task again itself).
        """
        try:
            commit, why = self._commit_and_push(task, wt, f"Work in progress, released by {self.s.name}: "
                                                          f"{outcome.reason}")
        except Unpushed as e:  # released all the same: the next owner continues from the remote's branch
            commit, why = e.commit, ""
        if commit is None:
            self._finish(task, wt, self._uncommitted(task, wt, outcome, why), committed=(None, why))
            self.stopping = self.stopping or stop
            return
        try:
            self.port.release(task.id, status=SHUTDOWN if stop else IDLE, reason=outcome.reason)
            self._current = None
            self.log(f"released #{task.id} for someone else" + (f" ({outcome.reason})" if outcome.reason else ""))
        except (Conflict, NotFound) as e:
            self._current = None
            self.log(f"cannot release #{task.id}: {e.message}; leaving the worktree {wt.path} to its new owner")
            if stop:
                self.stopping = True
            return  # a teammate of this clone that took the task over works in that same directory
        except (GitFailure, Busy) as e:
            self.log(f"gave up releasing #{task.id} ({e.message}); it stays claimed until its lease expires")
        except BoardError as e:
            self.log(f"cannot release #{task.id}: {e.message}; it stays claimed until its lease expires")
        with self.port.open() as repo:
            remove(repo, wt.path)
        if stop:
            self.stopping = True

    def _finish(self, task: Task, wt: Worktree | None, outcome: Outcome,
                committed: tuple[str | None, str] | None = None) -> None:
        """The harness: commit, push, done/fail with the result, remove the worktree (the branch stays).

        A task that is no longer ours (taken over while the agent ran) keeps its worktree: a
        teammate of this clone that took it over works in that same directory.

        A task is completed only with a commit: if the work cannot be committed, the task
        is failed with the reason, and the worktree -- holding the uncommitted work -- is
        kept (its path is in the log and in the result's ``worktree``).

        Args:
            committed: ``(commit, why)`` when the caller already tried to commit.
        """
        stopping = outcome.shutdown or self.port.abort.is_set()
        commit = None
        lost = False
        unpushed: Unpushed | None = None
        left = rework.leftover_conflicts(wt.path, self._rework_conflicts) if wt is not None else []
        if outcome.ok and left:  # never complete work that still holds conflict markers
            outcome = Outcome(ok=False, summary=outcome.summary, usage=outcome.usage,
                              reason=f"conflict markers left in {', '.join(left)}: the rework merge is not resolved",
                              details={**(outcome.details or {}), "conflicts": left})
        if wt is not None:
            if committed is None:
                body = outcome.summary if outcome.ok else f"Failed: {outcome.reason}"
                try:
                    committed = self._commit_and_push(task, wt, body)
                except Unpushed as e:
                    if e.lost:  # taken over: the new owner has the task, and this clone's worktree
                        self._current = None
                        self._status(SHUTDOWN if stopping else IDLE, None)
                        if stopping:
                            self.stopping = True
                        return
                    if e.kept is None:  # stopping in an outage: the task waits, claimed, for a restart
                        self.log(f"#{task.id} is not marked {'done' if outcome.ok else 'failed'}: its commit "
                                 f"{e.commit[:12]} is not on the remote; it stays claimed until its lease expires")
                        self.stopping = True
                        return
                    outcome = self._unpushed(wt, outcome, e)
                    committed = (None, "")
                    unpushed = e
                if committed[0] is None and unpushed is None:
                    outcome = self._uncommitted(task, wt, outcome, committed[1])
            commit = committed[0]
        keep = wt is not None and commit is None and unpushed is None
        result = harness.task_result(wt, commit, outcome)
        try:
            self.port.finish(task.id, outcome.ok, result, status=SHUTDOWN if stopping else IDLE)
            self._current = None
        except (Conflict, NotFound) as e:
            self._current = None
            self.log(f"#{task.id} is no longer mine ({e.message}); my work stays on "
                     f"{wt.branch if wt else 'no branch'}" + (f" at {commit[:12]}" if commit else "")
                     + (f", and the worktree {wt.path} is left to the new owner" if wt is not None else ""))
            self._status(SHUTDOWN if stopping else IDLE, None)
            lost = True  # a teammate of this clone that took the task over works in that same directory
        except (GitFailure, Busy) as e:
            self.log(f"gave up marking #{task.id} ({e.message}); it stays claimed until its lease expires, "
                     f"and the work is on {wt.branch if wt else 'no branch'}")
            self.stopping = True
            return
        except BoardError as e:
            self.log(f"cannot mark #{task.id} {'done' if outcome.ok else 'failed'} ({e.message}); it stays "
                     f"claimed until its lease expires, and the work is on {wt.branch if wt else 'no branch'}")
            self._status(SHUTDOWN if stopping else IDLE, None)
        else:
            if outcome.ok:
                self.log(f"done #{task.id}: {task.subject}")
            else:
                self.log(f"failed #{task.id}: {outcome.reason}")
        if keep:
            self.log(f"kept the worktree {wt.path}: it holds work that is not committed")
        elif wt is not None and not lost:
            with self.port.open() as repo:
                remove(repo, wt.path)
        if stopping:
            self.stopping = True


