"""The teammate loop: the seed's WORK / IDLE lifecycle, made durable on the board.

::

    start -> resume the tasks the board says it owns (crash recovery)
          -> IDLE: every --poll seconds
               1. inbox: shutdown_request -> approve, exit;
                         other messages   -> WORK on them (agents that can; the shell agent logs them)
               2. tasks it owns (an agent may claim with its claim_task tool) -> WORK
               3. the lowest-id ready task matching its role (and agent) -> claim -> WORK
                  (a lost race moves on to the next ready task)
               nothing for --idle-timeout seconds -> status shutdown, exit
          -> WORK on a task: worktree (task/<id>), lease renewed every lease/3,
             agent.run(ctx), then the harness commits, pushes, marks done/failed,
             removes the worktree (the branch stays) -> IDLE

The member's status on the board follows: ``working`` (with its task) in the
same commit as the claim, ``idle`` in the same commit as ``done``/``fail``,
``shutdown`` at the end. An approved shutdown_request while working with the
shell or exec agent stops the command, commits the work so far, pushes it and
releases the task for someone else (a takeover continues from that branch).
A lease lost while working (the teammate could not renew it in time and
someone took the task over) stops the command and leaves the branch and
worktree to the new owner. Board writes that must not be lost retry through
remote outages (:meth:`BoardPort.persist`).

No work is lost: a task is marked done only with its commit; work that cannot be
committed fails the task with the reason and keeps its worktree. A task whose
branch the user has checked out is released, not failed, and not claimed in this
clone while it stays checked out. A board error in a poll is logged and the loop
carries on; an internal error gives the task in hand back before the teammate
shuts down (exit 1). A repeated SIGTERM/SIGINT changes nothing: the stop goes on.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from gitboard.board import inbox_ops
from gitboard.board.clock import utcnow
from gitboard.board.errors import BoardError, Busy, Conflict, GitFailure, NotFound
from gitboard.board.message import SHUTDOWN_REQUEST
from gitboard.board.snapshot import Board
from gitboard.board.task import IN_PROGRESS, Task
from gitboard.board.team_ops import IDLE, SHUTDOWN, WORKING
from gitboard.store.git import last_line
from gitboard.team import harness
from gitboard.team.agent import Agent, AgentContext, Outcome
from gitboard.team.outage import Outage
from gitboard.team.port import BoardPort
from gitboard.team.worktree import (BranchCheckedOut, MergeConflict, Worktree, WorktreeError, base_commit,
                                    checked_out_elsewhere, checkouts, inbox_worktree_path, prepare, remove)

#: The pseudo-task of a session started by messages while idle: no board task,
#: a scratch worktree whose changes are discarded.
MESSAGE_TASK = {"id": 0, "subject": "Answer the messages in your inbox (no task claimed)",
                "description": "Messages arrived while you were idle. Answer them with send_message if they need "
                               "an answer; create tasks with task_create or claim one with claim_task. This "
                               "worktree is a scratch checkout of the base branch: nothing in it is kept.",
                "status": "in_progress", "owner": "", "blockedBy": [], "run": None, "role": None}


@dataclass
class Settings:
    """A teammate's options (``gitboard spawn``/``work``).

    Attributes:
        name: the teammate's name.
        repo_path: a directory of its clone.
        role: its role (claims only tasks with no role or this one).
        prompt: standing instructions (``--prompt``).
        model: model id for the anthropic agent.
        poll: seconds between idle polls, and between inbox reads while a command runs.
        idle_timeout: seconds of idleness before it shuts down.
        lease: seconds of every claim's lease; renewed every third of it.
        max_turns: model turns per task (anthropic agent).
    """

    name: str
    repo_path: str
    role: str | None = None
    prompt: str | None = None
    model: str | None = None
    poll: float = 5.0
    idle_timeout: float = 60.0
    lease: float = 600.0
    max_turns: int | None = None


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


class Teammate:
    """One teammate: runs the loop of the module docstring until it shuts down.

    Args:
        settings: its options.
        agent: how it does a task's work (shell, exec, anthropic).
        port: the board (default: a :class:`BoardPort` for ``settings``).
        log: where log lines go (default: stdout, ``HH:MM:SS [name] line``).
    """

    def __init__(self, settings: Settings, agent: Agent, *, port: BoardPort | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.s = settings
        self.agent = agent
        self.port = port or BoardPort(settings.repo_path, settings.name, role=settings.role,
                                      lease=settings.lease, poll=settings.poll, log=log)
        self.stopping = False
        self._board_outage = Outage(self.log, "the board")
        self._inbox_outage = Outage(self.log, "my inbox")
        self._idle_logged = False
        self._last_error: str | None = None
        #: the task being worked on and its worktree (for giving it back after an internal error)
        self._current: tuple[Task, Worktree | None] | None = None
        #: (task id, updated_at) of claims the board refused with an error other than a lost race
        self._refused: set[tuple[int, str]] = set()
        #: task id -> the checkouts of its branch last logged as the reason to skip it
        self._skipped: dict[int, tuple[str, ...]] = {}
        self.state_dir = self._state_dir()

    # -- small helpers -------------------------------------------------------------
    def log(self, line: str) -> None:
        """Write one line to the teammate's log."""
        self.port.log(line)

    def _state_dir(self) -> Path:
        with self.port.open() as repo:
            return repo.state_dir()

    def stop(self) -> None:
        """Ask the loop to stop: the current command is stopped, its task released, and ``run`` returns.
        Safe to call from a signal handler."""
        self.port.cancel.set()
        self.port.abort.set()

    def _read(self) -> Board | None:
        try:
            board = self.port.board()
        except (GitFailure, Busy) as e:
            self._board_outage.failed(e.message)
            return None
        self._board_outage.ok()
        return board

    def _owned(self, board: Board) -> list[Task]:
        return [board.tasks[i] for i in sorted(board.tasks)
                if board.tasks[i].status == IN_PROGRESS and board.tasks[i].owner == self.s.name]

    def _role(self, board: Board) -> str | None:
        return self.s.role or board.team.role_of(self.s.name)

    # -- the loop ------------------------------------------------------------------
    def run(self) -> int:
        """Run until shutdown (idle timeout, an approved shutdown_request, or :meth:`stop`).

        Returns 0; or 1 after an unexpected internal error, which is logged (one line, no
        traceback) after the task in hand, if any, was given back (work so far committed and
        the task released, see :meth:`_release`) and the member marked shutdown. A board error
        in one poll (a corrupt file, a refused claim ...) is logged and the loop carries on.
        """
        try:
            return self._run()
        except Exception as e:  # a bug: never a traceback, never a dead teammate holding a claim
            self.log(f"internal error: {type(e).__name__}: {e}; shutting down")
            current, self._current = self._current, None
            if current is not None:
                task, wt = current
                try:
                    if wt is not None:
                        self._release(task, wt, Outcome(ok=False, reason=f"internal error: {type(e).__name__}"))
                    else:
                        self.port.release(task.id, status=SHUTDOWN)
                        self.log(f"released #{task.id} for someone else")
                except Exception as e2:
                    self.log(f"cannot give #{task.id} back ({type(e2).__name__}: {e2}); it stays claimed "
                             f"until its lease expires")
            self._status(SHUTDOWN, None)
            return 1

    def _board_error(self, e: BoardError) -> None:
        """Log a board error met while polling, once until a different one (or none) happens."""
        if e.message != self._last_error:
            self.log(f"board error ({e.message}); carrying on")
        self._last_error = e.message

    def _run(self) -> int:
        s = self.s
        self.log(f"started: {self.agent.name} agent, pid {os.getpid()} on {self.port.host}; "
                 f"poll {s.poll:g} s, idle timeout {s.idle_timeout:g} s, lease {s.lease:g} s")
        try:
            board = self.port.persist("reading the board", self.port.board)
        except (GitFailure, Busy):
            return self._exit("stopped")
        except BoardError as e:
            self._board_error(e)
            board = None
        owned = self._owned(board) if board is not None else []
        if not owned:
            self._status(IDLE, None)
        for task in owned:  # crash recovery: what the board says is ours comes first
            self.log(f"resuming #{task.id}, which the board says is mine: {task.subject}")
            try:
                self._take_up(task)
            except BoardError as e:
                self._board_error(e)
            if self.stopping or self.port.abort.is_set():
                return self._exit("stopped")
        idle_since = time.monotonic()
        while not (self.stopping or self.port.abort.is_set()):
            try:
                worked = self._poll_once()
                self._last_error = None
            except BoardError as e:
                self._board_error(e)
                worked = False
            if worked:
                idle_since = time.monotonic()
                continue
            if self.stopping or self.port.abort.is_set():
                break
            if not self._idle_logged:
                self.log(f"idle: polling every {s.poll:g} s, shutting down after {s.idle_timeout:g} s idle")
                self._idle_logged = True
            if time.monotonic() - idle_since >= s.idle_timeout:
                self.log(f"idle for {s.idle_timeout:g} s: shutting down")
                self._status(SHUTDOWN, None, persist=True)
                return 0
            self.port.abort.wait(s.poll)
        return self._exit("stopped" if self.port.abort.is_set() else "shut down")

    def _poll_once(self) -> bool:
        """One IDLE poll: the inbox, then tasks the board says are mine, then a ready task.
        Returns True if it did some work."""
        board = self._read()
        if self._inbox(board):
            return True
        if self.stopping or board is None:
            return False
        owned = self._owned(board)
        if owned and self._take_up(owned[0]):
            return True
        task = self._claim_next(board)
        if task is not None:
            self._work(task)
            return True
        return False

    def _exit(self, why: str) -> int:
        if not self.port.shutdown_approved:
            self._status(SHUTDOWN, None)
        self.log(why)
        return 0

    def _status(self, status: str, task: Any, persist: bool = False) -> None:
        try:
            if persist:
                self.port.persist(f"status {status}", lambda: self.port.set_status(status, task))
            else:
                self.port.set_status(status, task)
        except BoardError as e:
            self.log(f"cannot set my status to {status}: {e.message}")

    # -- IDLE: inbox ---------------------------------------------------------------
    def _inbox(self, board: Board | None) -> bool:
        """Read the inbox (drained only when ``board`` shows messages in it, or some are held).
        Returns True if it did some work (messages worked on). An approved shutdown_request
        sets :attr:`stopping`."""
        if board is None or (not inbox_ops.peek(board, self.s.name) and not self.port.has_held()):
            return False
        try:
            messages = self.port.read_inbox()
        except (GitFailure, Busy) as e:
            self._inbox_outage.failed(e.message)
            return False
        self._inbox_outage.ok()
        if not messages:
            return False
        asks = [m for m in messages if m.get("type") == SHUTDOWN_REQUEST]
        others = [m for m in messages if m.get("type") != SHUTDOWN_REQUEST]
        if asks:
            for m in others:
                self.log(f"message from {m.get('from')} ({m.get('type')}), unanswered as I shut down: "
                         f"{m.get('content', '')}")
            for m in asks:
                self.log(f"shutdown requested by {m.get('from')}: approving (idle)")
                try:
                    self.port.respond_shutdown(m["request_id"], True, "idle: shutting down")
                except BoardError as e:
                    self.log(f"cannot answer shutdown request {m.get('request_id')}: {e.message}")
            self.stopping = True
            return False
        if not getattr(self.agent, "handles_messages", self.agent.name != "shell"):
            for m in others:
                self.log(f"message from {m.get('from')} ({m.get('type')}): {m.get('content', '')} "
                         f"(the {self.agent.name} agent only runs tasks' commands; not acted on)")
            return False
        self._message_session(others)
        return True

    def _message_session(self, messages: list[dict]) -> None:
        """WORK on messages that arrived while idle: the agent runs with them in context, in a scratch
        checkout of the base branch (nothing in it is kept), with no task.

        The scratch worktree is ``<git-common-dir>/gitboard/worktrees/inbox-<name>`` (detached at
        the base commit; an empty directory there if it cannot be made): inside the clone's git
        directory, so a ``kill -9`` leaks nothing outside it. One left by a killed session is
        replaced, and it is removed when the session ends.
        """
        self.log(f"{len(messages)} message(s) while idle: working on them")
        self._idle_logged = False
        with self.port.open() as repo:
            scratch = inbox_worktree_path(repo, self.s.name)
            if scratch.exists() or scratch.is_symlink():
                self.log(f"replacing a stale scratch worktree at {scratch}")
            remove(repo, scratch)
            try:
                _, start = base_commit(repo)
                made = repo.git("worktree", "add", "-q", "--detach", str(scratch), start, check=False)
                if made.status != 0:
                    self.log(f"cannot make a scratch worktree ({last_line(made.stderr)}); using an empty directory")
            except BoardError as e:
                self.log(f"no base to check out for the scratch worktree ({e.message}); using an empty directory")
            scratch.mkdir(parents=True, exist_ok=True)
            team_name = self._team_name()
        try:
            self._status(WORKING, None)
            ctx = self._context(dict(MESSAGE_TASK), scratch, team_name, messages)
            outcome = self._run_agent(ctx)
            if outcome.shutdown or self.port.shutdown_approved:
                self.stopping = True
            elif not self.port.abort.is_set():
                self._status(IDLE, None)
        finally:
            with self.port.open() as repo:
                remove(repo, scratch)

    # -- IDLE: the board -----------------------------------------------------------
    def _claim_next(self, board: Board) -> Task | None:
        """Claim the lowest-id ready task this teammate can do; a lost race moves on to the next.

        Skipped: a task whose branch ``task/<id>`` is checked out in another worktree of
        this clone (the user's own checkout: git cannot check it out twice; logged once),
        and a task whose claim the board refused with another error (Invalid, Corrupt ...:
        logged once, tried again when the task changes). Returns the claimed task, or None.
        """
        need_run = self.agent.name == "shell"
        listing: dict[str, list[Path]] | None = None
        skipped: dict[int, tuple[str, ...]] = {}
        visited: set[int] = set()
        try:
            for t in board.ready(utcnow(), self._role(board), need_run=need_run):
                if not self.agent.accepts(t.to_json()) or (t.id, t.updated_at or "") in self._refused:
                    continue
                if listing is None:
                    with self.port.open() as repo:
                        listing = checkouts(repo)
                mine = self.state_dir / "worktrees" / f"task-{t.id}"
                visited.add(t.id)
                elsewhere = checked_out_elsewhere(listing, f"task/{t.id}", mine=mine)
                if elsewhere:
                    skipped[t.id] = tuple(str(p) for p in elsewhere)
                    if self._skipped.get(t.id) != skipped[t.id]:
                        self.log(f"skipping #{t.id}: its branch task/{t.id} is checked out in "
                                 f"{', '.join(skipped[t.id])}")
                    continue
                try:
                    task = self.port.claim(t.id)
                except (Conflict, NotFound):
                    continue  # lost the race: try the next ready task
                except (GitFailure, Busy) as e:
                    self.log(f"cannot claim #{t.id} ({e.message}); will try again")
                    return None
                except BoardError as e:
                    self.log(f"cannot claim #{t.id}: {e.message}; skipping it until it changes")
                    self._refused.add((t.id, t.updated_at or ""))
                    continue
                if t.status == IN_PROGRESS and t.owner and t.owner != self.s.name:
                    self.log(f"took over #{task.id} from {t.owner} (its lease expired): {task.subject}")
                else:
                    self.log(f"claimed #{task.id}: {task.subject}")
                return task
            return None
        finally:
            self._skipped = {**{k: v for k, v in self._skipped.items() if k not in visited}, **skipped}

    def _take_up(self, task: Task) -> bool:
        """Work on a task the board says is already ours (restart, or claimed by the agent's tool).
        Returns True if something changed (worked on it, or released it)."""
        if not self.agent.accepts(task.to_json()):
            self.log(f"#{task.id} has no run command, which the {self.agent.name} agent needs: releasing it")
            try:
                self.port.release(task.id)
                return True
            except BoardError as e:
                self.log(f"cannot release #{task.id}: {e.message}")
                return False
        try:
            task = self.port.resume(task.id)
        except (Conflict, NotFound) as e:
            self.log(f"#{task.id} is no longer mine: {e.message}")
            return True
        except (GitFailure, Busy) as e:
            self.log(f"cannot renew #{task.id} ({e.message}); will try again")
            return False
        self._work(task)
        return True

    # -- WORK ----------------------------------------------------------------------
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
                            max_turns=s.max_turns, poll=s.poll, messages=messages, env=env)

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
        renewer = Renewer(self.port, task.id, self.s.lease).start()
        try:
            ctx = self._context(task.to_json(), wt.path, board.team.team_name, self.port.take_held())
            outcome = self._run_agent(ctx)
        finally:
            renewer.stop()
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

        Returns ``(commit, "")``, or ``(None, why)`` when no commit could be made (the work
        then stays, uncommitted, in the worktree). A push that cannot be made is logged; the
        commit stays local and still counts.
        """
        try:
            with self.port.open() as repo:
                commit = harness.commit_work(repo, wt, task, self.s.name, body, log=self.log)
        except GitFailure as e:
            self.log(f"cannot commit the work of #{task.id}: {e.message}")
            return None, e.message
        self.log(f"committed {wt.branch} ({commit[:12]})")
        try:
            harness.push_branch(self.port, wt.branch, commit)
        except GitFailure as e:
            self.log(f"gave up pushing {wt.branch} ({e.message}); {commit[:12]} stays local")
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

    def _release(self, task: Task, wt: Worktree, outcome: Outcome) -> None:
        """Stopping mid-task: commit the work so far, push it, release the task for someone else.

        If the work so far cannot be committed the task is failed instead (a takeover
        elsewhere would start without it), with the reason, and the worktree is kept.
        """
        commit, why = self._commit_and_push(task, wt, f"Work in progress, released by {self.s.name}: "
                                                      f"{outcome.reason}")
        if commit is None:
            self._finish(task, wt, self._uncommitted(task, wt, outcome, why), committed=(None, why))
            self.stopping = True
            return
        try:
            self.port.release(task.id, status=SHUTDOWN)
            self._current = None
            self.log(f"released #{task.id} for someone else")
        except (Conflict, NotFound) as e:
            self._current = None
            self.log(f"cannot release #{task.id}: {e.message}")
        except (GitFailure, Busy) as e:
            self.log(f"gave up releasing #{task.id} ({e.message}); it stays claimed until its lease expires")
        except BoardError as e:
            self.log(f"cannot release #{task.id}: {e.message}; it stays claimed until its lease expires")
        with self.port.open() as repo:
            remove(repo, wt.path)
        self.stopping = True

    def _finish(self, task: Task, wt: Worktree | None, outcome: Outcome,
                committed: tuple[str | None, str] | None = None) -> None:
        """The harness: commit, push, done/fail with the result, remove the worktree (the branch stays).

        A task is completed only with a commit: if the work cannot be committed, the task
        is failed with the reason, and the worktree -- holding the uncommitted work -- is
        kept (its path is in the log and in the result's ``worktree``).

        Args:
            committed: ``(commit, why)`` when the caller already tried to commit.
        """
        stopping = outcome.shutdown or self.port.abort.is_set()
        commit = None
        if wt is not None:
            if committed is None:
                body = outcome.summary if outcome.ok else f"Failed: {outcome.reason}"
                committed = self._commit_and_push(task, wt, body)
                if committed[0] is None:
                    outcome = self._uncommitted(task, wt, outcome, committed[1])
            commit = committed[0]
        keep = wt is not None and commit is None
        result = harness.task_result(wt, commit, outcome)
        try:
            self.port.finish(task.id, outcome.ok, result, status=SHUTDOWN if stopping else IDLE)
            self._current = None
        except (Conflict, NotFound) as e:
            self._current = None
            self.log(f"#{task.id} is no longer mine ({e.message}); my work stays on "
                     f"{wt.branch if wt else 'no branch'}" + (f" at {commit[:12]}" if commit else ""))
            self._status(SHUTDOWN if stopping else IDLE, None)
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
        elif wt is not None:
            with self.port.open() as repo:
                remove(repo, wt.path)
        if stopping:
            self.stopping = True


def install_signal_handlers(teammate: Teammate) -> None:
    """SIGTERM, SIGINT and SIGHUP stop the teammate cleanly: its command stopped, the work so far
    committed and the task released. A repeated signal does the same (it is logged and changes
    nothing), so an impatient second Ctrl-C never leaves a command running or a task claimed;
    ``kill -9`` ends the process at once. Call from the main thread."""
    count = [0]

    def handler(signum: int, frame: Any) -> None:
        count[0] += 1
        name = signal.Signals(signum).name
        if count[0] > 1:
            teammate.log(f"got signal {name} again: already stopping (stopping the command, giving the task "
                         f"back); kill -9 {os.getpid()} ends me at once")
        else:
            teammate.log(f"got signal {name}: stopping")
        teammate.stop()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):
            pass
