"""IDLE: the teammate's inbox, and WORK on messages that arrived while idle (no task claimed).

Mixed into :class:`gitboard.runtime.loop.Teammate`. A shutdown_request is approved at once
(the teammate is idle); other messages start a session of the agent in a scratch checkout
of the base branch, whose changes are discarded. The shell agent only logs messages.

The mixin needs what :class:`gitboard.runtime.work.Host` states, and the methods ``_team_name``,
``_context`` and ``_run_agent`` of :class:`gitboard.runtime.work.TaskWork`.
"""

from __future__ import annotations

from gitboard.board import inbox_ops
from gitboard.board.errors import BoardError, Busy, GitFailure
from gitboard.board.message import SHUTDOWN_REQUEST
from gitboard.board.snapshot import Board
from gitboard.board.roster_ops import IDLE, WORKING
from gitboard.store.git import last_line
from gitboard.store.merge import add_worktree
from gitboard.runtime.worktree import base_commit, inbox_worktree_path, remove

#: The pseudo-task of a session started by messages while idle: no board task,
#: a scratch worktree whose changes are discarded.
MESSAGE_TASK = {"id": 0, "subject": "Answer the messages in your inbox (no task claimed)",
                "description": "Messages arrived while you were idle. Answer them with send_message if they need "
                               "an answer; create tasks with task_create or claim one with claim_task. This "
                               "worktree is a scratch checkout of the base branch: nothing in it is kept.",
                "status": "in_progress", "owner": "", "blockedBy": [], "run": None, "role": None}


class InboxSession:
    """The inbox half of a teammate's IDLE state (a mixin of :class:`gitboard.runtime.loop.Teammate`)."""

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
        if not self.agent.handles_messages:
            for m in others:
                self.log(f"message from {m.get('from')} ({m.get('type')}): {m.get('content', '')} "
                         f"(the {self.agent.name} agent only runs tasks' commands; not acted on)")
            return False
        self._message_session(others)
        return True

    def _message_session(self, messages: list[dict]) -> None:
        """WORK on messages that arrived while idle: the agent runs with them in context, in a scratch
        checkout of the base branch (nothing in it is kept), with no task.

        The scratch worktree is ``inbox-<name>`` next to the task worktrees
        (:func:`gitboard.runtime.worktree.inbox_worktree_path`; detached at the base commit, an empty
        directory there if it cannot be made), outside any ``.git`` directory so that agent CLIs
        may edit in it. One left by a killed session is replaced, and it is removed when the
        session ends.
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
                made = add_worktree(repo, str(scratch), "--detach", str(scratch), start)
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

