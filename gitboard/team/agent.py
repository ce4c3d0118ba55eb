"""The contract between the teammate runtime and the agents that do a task's work.

The runtime (the WORK/IDLE loop) claims a task, prepares its worktree and calls
``agent.run(ctx)``. The agent works inside ``ctx.worktree`` only, talks to the
board only through ``ctx.port`` (each call is one board transaction), and returns
an :class:`Outcome`. The harness, not the agent, then commits, pushes and marks
the task done or failed (or releases it after an approved shutdown).

Agents: ``anthropic`` (the Messages API tool-use loop), ``shell`` (the task's
``run`` command), ``exec`` (any command line) and the agent CLI presets ``claude``,
``codex``, ``aider`` (:mod:`gitboard.team.presets`, run by :mod:`gitboard.team.cli_agent`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class Usage:
    """Token usage summed over a task's model calls, as the Messages API reports it (tokens)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    def add(self, usage: Any) -> None:
        """Add an API ``usage`` object (or dict); missing or None fields count as 0."""
        get = usage.get if isinstance(usage, dict) else (lambda k, d=None: getattr(usage, k, d))
        for k in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            setattr(self, k, getattr(self, k) + int(get(k, 0) or 0))

    def to_json(self) -> dict:
        """Return ``{"input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"}``."""
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cache_read_input_tokens": self.cache_read_input_tokens,
                "cache_creation_input_tokens": self.cache_creation_input_tokens}


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
    """The board as an agent may use it. Every call is one board transaction by the teammate."""

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
            ``gitboard.team.inbox_session.MESSAGE_TASK``): no board task, and the worktree is a
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
    """An agent kind: ``name`` is ``anthropic``, ``shell`` or ``exec``."""

    name: str

    def accepts(self, task: dict) -> bool:
        """True if this agent can work on ``task`` (the shell agent needs a ``run`` command)."""

    def run(self, ctx: AgentContext) -> Outcome:
        """Do the task's work in ``ctx.worktree`` and return how it ended. Must not raise for task failures."""
