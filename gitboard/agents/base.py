"""The contract between the teammate runtime and the agents that do a task's work.

The runtime (the WORK/IDLE loop) claims a task, prepares its worktree and calls
``agent.run(ctx)``. The agent works inside ``ctx.worktree`` only, talks to the
board only through ``ctx.port`` (each call is one board transaction), and returns
an :class:`Outcome`. The harness, not the agent, then commits, pushes and marks
the task done or failed (or releases it after an approved shutdown).

Agents: ``anthropic`` (the Messages API tool-use loop), ``shell`` (the task's
``run`` command), ``exec`` (any command line) and the agent CLI presets ``claude``,
``codex``, ``aider`` (:mod:`gitboard.agents.presets`, run by :mod:`gitboard.agents.agent_cli`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Protocol

from gitboard.llm.accounting import Usage

__all__ = ["Agent", "AgentContext", "Outcome", "TeamPort", "Usage"]


@dataclass
class Outcome:
    """How a task's work ended.

    Attributes:
        ok: True completes the task, False fails it (with ``reason``).
        summary: a short account of the work, stored in the task result.
        usage: tokens used (zero for shell and exec; what the CLI reported for the presets).
        reason: why it failed (exit code and output tail, API error, max turns ...).
        shutdown: the teammate approved a shutdown_request while working: the
            runtime releases the task for someone else (unless ``ok``) and exits.
        details: extra JSON fields for the task result (the shell agent's
            ``exit_code`` and ``output_tail``; ``cost_usd``, ``models``, ``num_turns``,
            ``session_id`` from the model-driven agents).
    """

    ok: bool
    summary: str = ""
    usage: Usage = field(default_factory=Usage)
    reason: str = ""
    shutdown: bool = False
    details: dict = field(default_factory=dict)


class TeamPort(Protocol):
    """The board as an agent may use it. Every call is one board transaction by the teammate.

    Members with a body here are optional: a port that is a subclass gets these defaults
    (no stop signal, no activity clock, inbox messages are not held), so callers never ask
    whether a port has them. :class:`gitboard.runtime.port.BoardPort` fills every one.

    Attributes:
        cancel: the runtime's stop signal, set when the teammate must stop the work in hand
            (SIGTERM, a lost lease, a stall); None: the work is never told to stop.
        last_activity: ``time.monotonic()`` of the agent's last sign of life (output, a tool call),
            for stall detection; None: not tracked.
        lease: seconds of the teammate's claims (None: the board's default lease).
        shutdown_approved: a shutdown_request was approved through this port (the agent may set it
            when it approved one itself, through gitboard's MCP server).
    """

    cancel: threading.Event | None = None
    last_activity: float | None = None
    lease: float | None = None
    shutdown_approved: bool = False

    def touch(self) -> None:
        """Record a sign of life of the agent (a line of output, a tool call). Default: nothing."""

    def drain_new(self) -> list[dict]:
        """Drain the inbox without returning messages held earlier (:meth:`hold`). Default: :meth:`read_inbox`."""
        return self.read_inbox()

    def hold(self, message: dict) -> None:
        """Keep ``message`` for the teammate's next piece of work (read while a command ran).
        Default: it is dropped."""

    def note_delivered(self, request_ids: Iterable[str]) -> None:
        """Record plan answers the agent already received another way (through gitboard's MCP
        server), so that they are not handed to it again from the inbox. Default: nothing."""

    def send(self, to: str, content: str, type: str = "message") -> dict:
        """Send a message; returns the message object. Raises BoardError (unknown recipient ...)."""

    def read_inbox(self) -> list[dict]:
        """Drain this teammate's inbox; returns message objects, oldest first (shutdown_requests included)."""

    def task_list(self) -> list[dict]:
        """Return every task object, sorted by id."""

    def task_get(self, task_id: int) -> dict:
        """Return one task object. Raises NotFound."""

    def task_create(self, subject: str, description: str = "", blocked_by: list[int] | None = None) -> dict:
        """Add a task; returns it."""

    def claim_task(self, task_id: int) -> dict:
        """Claim a task for this teammate (with its lease); returns it. Raises Conflict/NotFound."""

    def respond_shutdown(self, request_id: str, approve: bool, reason: str = "") -> dict:
        """Answer a shutdown_request; approving marks this member shutdown. Returns the request."""

    def submit_plan(self, plan: str, timeout: float) -> dict:
        """Submit a plan to the lead and wait up to ``timeout`` seconds for the answer.

        Returns ``{"request_id", "status": "approved"|"rejected"|"pending", "feedback"}``;
        ``pending`` when the wait ran out.
        """

    def log(self, line: str) -> None:
        """Write one line to the teammate's log, shown as ``[alice] <line>`` by ``gitboard logs``."""


@dataclass
class AgentContext:
    """Everything an agent gets for one task.

    Attributes:
        name, role, team_name: the teammate's identity.
        task: the claimed task object (the board's task JSON). For a session started
            by messages that arrived while idle it is a pseudo-task with ``id`` 0 (see
            ``gitboard.runtime.inbox_session.MESSAGE_TASK``): no board task, and the worktree is a
            scratch checkout of the base branch whose changes are discarded.
        worktree: the task's git worktree; all file and shell tools stay inside it.
        state_dir: ``<git-common-dir>/gitboard/`` (transcripts go under ``transcripts/``).
        port: the board, as in :class:`TeamPort`.
        prompt: standing instructions from ``--prompt``.
        model: model id for the anthropic agent.
        max_turns: model turns allowed for this task (None: no limit).
        poll: seconds between inbox reads while a command runs.
        messages: messages that resumed WORK (they go into the agent's context first).
        env: extra environment for commands (``GITBOARD_ACTOR``, ``GITBOARD_TASK`` ...).
        budget_usd: stop the work once its recorded cost reaches this many USD (None: no limit).
        budget_tokens: stop the work once its recorded tokens (input, output, cache reads and
            writes summed) reach this many (None: no limit).
        plan_first: the agent submits a plan and starts the work only once the lead approves it
            (``--plan-first``); work finished without an approved plan fails the task.
    """

    name: str
    role: str | None
    team_name: str
    task: dict
    worktree: Path
    state_dir: Path
    port: TeamPort
    prompt: str | None = None
    model: str | None = None
    max_turns: int | None = None
    poll: float = 5.0
    messages: list[dict] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    budget_usd: float | None = None
    budget_tokens: int | None = None
    plan_first: bool = False


class Agent(Protocol):
    """An agent kind: ``name`` is ``anthropic``, ``shell``, ``exec`` or an agent CLI preset's.

    Every agent kind subclasses this protocol, so each member has a value; the defaults
    suit a model-driven agent. ``run`` has no default.

    Attributes:
        name: the ``--agent`` word.
        handles_messages: messages that arrive while idle start a session of this agent
            (False: they are logged, not acted on; the shell agent only runs commands).
        restarts_rework: a task sent back for rework restarts its branch from the base
            (the shell agent, whose ``run`` command is the whole task) instead of merging
            the base into the work so far.
    """

    name: str = ""
    handles_messages: bool = True
    restarts_rework: bool = False

    def accepts(self, task: dict) -> bool:
        """True if this agent can work on ``task`` (the shell agent needs a ``run`` command). Default: True."""
        return True

    def run(self, ctx: AgentContext) -> Outcome:
        """Do the task's work in ``ctx.worktree`` and return how it ended. Must not raise for task failures."""
        raise NotImplementedError
