"""The teammate loop: the WORK / IDLE lifecycle of a teammate, made durable on the board.

::

    start -> clear what dead runs of this clone left behind (gitboard.runtime.cleanup; also every 10 min)
          -> resume the tasks the board says it owns (crash recovery)
          -> IDLE: every --poll seconds, and at once when the board moves (local mode)
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

import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from gitboard.board.clock import utcnow
from gitboard.board.errors import BoardError, Busy, Conflict, GitFailure, Invalid, NotFound
from gitboard.board.snapshot import Board
from gitboard.board.task import IN_PROGRESS, Task
from gitboard.board.roster_ops import IDLE, SHUTDOWN
from gitboard.agents.base import Agent, Outcome
from gitboard.runtime.cleanup import CLEAN_INTERVAL, clean_dead_runs
from gitboard.runtime.inbox_session import MESSAGE_TASK, InboxSession
from gitboard.agents.outage import Outage
from gitboard.runtime.port import BoardPort
from gitboard.runtime.work import Renewer, TaskWork
from gitboard.runtime.worktree import Worktree, checked_out_elsewhere, checkouts

__all__ = ["MESSAGE_TASK", "Renewer", "Settings", "Teammate", "install_signal_handlers"]


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
        budget_usd: per-task budget in USD (``--budget-usd``; None: no limit).
        budget_tokens: per-task budget in tokens, all four kinds summed (``--budget-tokens``).
        stall_timeout: seconds without agent activity (output, a log line, a tool call) after
            which the agent is stopped and its task released as ``stalled`` (``--stall-timeout``).
        plan_first: each task starts with a plan the lead must approve (``--plan-first``).
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
    budget_usd: float | None = None
    budget_tokens: int | None = None
    stall_timeout: float = 900.0
    plan_first: bool = False



class Teammate(InboxSession, TaskWork):
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
        self._seen_tip: str | None = None  # the board tip of the last read: idle waits for it to move
        self._last_error: str | None = None
        #: the task being worked on and its worktree (for giving it back after an internal error)
        self._current: tuple[Task, Worktree | None] | None = None
        #: (task id, updated_at) of claims the board refused with an error other than a lost race
        self._refused: set[tuple[int, str]] = set()
        #: task id -> the checkouts of its branch last logged as the reason to skip it
        self._skipped: dict[int, tuple[str, ...]] = {}
        #: tasks this teammate released as stalled: left to others (see work.StallWatch)
        self._stalled: set[int] = set()
        #: (task id, updated_at) of ready tasks skipped for want of a run command, already logged
        self._runless: set[tuple[int, str]] = set()
        #: the team budget line last logged (logged once while it holds)
        self._budget_logged: str | None = None
        #: ``time.monotonic()`` of the last clean-up of dead runs' leftovers (see :mod:`gitboard.runtime.cleanup`)
        self._cleaned_at: float | None = None
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
        self._seen_tip = board.tip
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
        if board is not None:
            self._clean(board)
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
            if self._cleaned_at is None or time.monotonic() - self._cleaned_at >= CLEAN_INTERVAL:
                board = self._read()
                if board is not None:
                    self._clean(board)
            # wakes as soon as the board moves (local mode), else after --poll
            self.port.wait_for_change(self._seen_tip, s.poll)
        return self._exit("stopped" if self.port.abort.is_set() else "shut down")

    def _clean(self, board: Board) -> None:
        """Remove the worktrees, pgid files and task branches this clone's dead runs left behind
        (:func:`gitboard.runtime.cleanup.clean_dead_runs`); a failure is logged, never fatal."""
        self._cleaned_at = time.monotonic()
        try:
            with self.port.open() as repo:
                clean_dead_runs(repo, board, keep={self.s.name}, log=self.log)
        except BoardError as e:
            self.log(f"cannot clear what dead runs left behind: {e.message}")
        except OSError as e:
            self.log(f"cannot clear what dead runs left behind: {e.strerror or e}")

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

    # -- IDLE: the board -----------------------------------------------------------
    def _over_team_budget(self, board: Board) -> bool:
        """True if the board's recorded cost has reached the team budget (``git config gitboard.budget.usd``),
        which is logged once: no more claims. Tasks already claimed (crash recovery) still go on."""
        from gitboard.board.cost import total

        with self.port.open() as repo:
            limit = team_budget(repo.config)  # Invalid: logged by the poll as a board error; no claims
        if limit is None:
            return False
        spent = total(board).cost_usd or 0.0
        if spent < limit:
            if self._budget_logged:
                self.log(f"team budget: ${spent:.4f} recorded of ${limit:.4f}; claiming again")
            self._budget_logged = None
            return False
        line = (f"team budget reached: ${spent:.4f} recorded on the board of the ${limit:.4f} budget "
                f"(git config gitboard.budget.usd); not claiming more tasks")
        if self._budget_logged != line:
            self.log(line)
        self._budget_logged = line
        return True

    def _claim_next(self, board: Board) -> Task | None:
        """Claim the lowest-id ready task this teammate can do; a lost race moves on to the next.

        Skipped: a task whose branch ``task/<id>`` is checked out in another worktree of
        this clone (the user's own checkout: git cannot check it out twice; logged once),
        and a task whose claim the board refused with another error (Invalid, Corrupt ...:
        logged once, tried again when the task changes). Returns the claimed task, or None.
        """
        if self._over_team_budget(board):
            return None
        ready = board.ready(utcnow(), self._role(board))
        if self.agent.name == "shell":  # it needs a run command: say once per task why one is left
            for t in ready:
                if not t.run and (t.id, t.updated_at or "") not in self._runless:
                    self._runless.add((t.id, t.updated_at or ""))
                    self.log(f"skipping #{t.id}: it has no run command, which the shell agent needs "
                             f"(gitboard task update {t.id} --run CMD, or a teammate with another agent)")
            ready = [t for t in ready if t.run]
        listing: dict[str, list[Path]] | None = None
        skipped: dict[int, tuple[str, ...]] = {}
        visited: set[int] = set()
        try:
            for t in ready:
                if not self.agent.accepts(t.to_json()) or (t.id, t.updated_at or "") in self._refused \
                        or t.id in self._stalled:
                    continue
                if listing is None:
                    with self.port.open() as repo:
                        listing = checkouts(repo)
                visited.add(t.id)
                elsewhere = checked_out_elsewhere(listing, f"task/{t.id}")  # our own worktrees are not listed
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


def team_budget(config: Mapping[str, str]) -> float | None:
    """Return the team budget in USD, ``git config gitboard.budget.usd``, or None if unset.

    Raises:
        Invalid: it is set but not a positive finite number.
    """
    raw = config.get("gitboard.budget.usd")
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (value > 0 and math.isfinite(value)):
        raise Invalid(f"git config gitboard.budget.usd must be a positive number of USD, not {raw!r}")
    return value


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
