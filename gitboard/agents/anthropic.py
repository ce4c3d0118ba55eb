"""The ``anthropic`` agent: a Messages API tool-use loop on the anthropic SDK.

The loop core it shares with the lead -- the client, prompt caching, the cancellable
request, usage and cost, compaction, running tool_uses -- is
:class:`gitboard.llm.conversation.Conversation`; this module adds the teammate's tools,
prompts and protocol (inbox, shutdown_request, plan approval, idle). The SDK is imported
only once a task's work starts (:func:`gitboard.llm.conversation.connect`); importing
this module is cheap.

One task, one loop::

    read inbox -> micro-compact -> (auto-compact?) -> (budget?) -> messages.create -> run tool_uses
        ^                                                                                 |
        +---------------------------------------------------------------------------------+
    ends: stop_reason end_turn, the idle tool, an approved shutdown_request, max_turns,
          the budget, an API error that outlived the SDK's retries, or a stop.

**Stopping.** The runtime asks for a stop by setting ``ctx.port.cancel`` (a
``threading.Event``; SIGTERM/Ctrl-C, or a lost lease). The session checks it before
each model turn and before each tool call, and while it waits for a model response
or a bash command (the command's process group is killed). It then returns
``Outcome(ok=False, reason="stopped ...")`` at once, as the shell agent does: after a
signal the runtime commits the work so far and releases the task; after a lost lease
it leaves the worktree to the new owner, untouched from then on.

**Cost and budgets.** Every response is priced as it comes
(:mod:`gitboard.llm.pricing`, with ``git config gitboard.price.*`` overrides); the
Outcome's details carry ``cost_usd``, ``models`` and ``num_turns``. With
``ctx.budget_usd`` or ``ctx.budget_tokens`` the agent takes no model turn once the
recorded usage has reached the budget, and clamps each turn's max_tokens to what is
left; the task then fails with a reason starting ``budget`` and the runtime commits the
work so far.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

from gitboard.llm import compaction, conversation, pricing, prompts, tools, workspace
from gitboard.llm.accounting import Budget, Meter
from gitboard.agents.base import Agent, AgentContext, Outcome
from gitboard.llm.conversation import MAX_RETRIES, MAX_TOKENS, Conversation, Stopped, one_line, short_input
from gitboard.llm.models import resolve_model
from gitboard.agents.outage import Outage
from gitboard.llm.workspace import obj

__all__ = ["AnthropicAgent", "MAX_TOKENS", "MAX_RETRIES", "TOOLS", "short_input", "tool_definitions"]

#: Seconds the plan_approval tool waits for the lead's answer.
PLAN_TIMEOUT = 600.0
#: Longest summary kept in the Outcome, in characters.
SUMMARY_CHARS = 4_000

_S = {"type": "string"}
_I = {"type": "integer"}

#: The tools offered to the model: Messages API tool definitions (file tools, compact, task
#: tools, team tools).
TOOLS: list[dict] = [
    *workspace.definitions("your worktree"),
    {"name": "send_message", "description": "Send a message to a teammate or the lead.",
     "input_schema": obj({"to": _S, "content": _S,
                          "msg_type": {"type": "string", "enum": ["message", "broadcast"]}}, ["to", "content"])},
    {"name": "read_inbox", "description": "Read and drain your inbox.", "input_schema": obj()},
    {"name": "task_list", "description": "List all tasks on the board: id, subject, status, owner, blockedBy.",
     "input_schema": obj()},
    {"name": "task_get", "description": "Get one task's details by id.",
     "input_schema": obj({"task_id": _I}, ["task_id"])},
    {"name": "task_create", "description": "Create a new task on the board (blocked_by: ids it waits for).",
     "input_schema": obj({"subject": _S, "description": _S, "blocked_by": {"type": "array", "items": _I}},
                         ["subject"])},
    {"name": "claim_task", "description": "Claim a task from the board by id.",
     "input_schema": obj({"task_id": _I}, ["task_id"])},
    {"name": "shutdown_response", "description": "Answer a shutdown_request: approve, or reject with a reason.",
     "input_schema": obj({"request_id": _S, "approve": {"type": "boolean"}, "reason": _S},
                         ["request_id", "approve"])},
    {"name": "plan_approval", "description": "Submit a plan to the lead and wait for approval or feedback.",
     "input_schema": obj({"plan": _S}, ["plan"])},
    {"name": "idle", "description": "Signal that the work on this task is finished. Ends your work on it.",
     "input_schema": obj()},
    {"name": "compact", "description": "Compact your conversation into a summary to free context.",
     "input_schema": obj({"focus": {"type": "string", "description": "What to preserve in the summary"}})},
]


def tool_definitions() -> list[dict]:
    """Return a copy of :data:`TOOLS` with ``cache_control`` on the last tool (caches the tools prefix)."""
    return conversation.cached_tools(TOOLS)


class AnthropicAgent(Agent):
    """The ``anthropic`` agent kind: works on any task with the Messages API tool-use loop.

    Args:
        max_tokens: max_tokens per request (tokens); clamped to :data:`MAX_TOKENS` and to
            the SDK's non-streaming limit for the model, if it has one.
        max_retries: retries the SDK makes per request (429, 529, 5xx, connection errors).
        request_timeout: seconds per request; None lets the SDK pick (10 minutes non-streaming).
        compact_threshold: estimated context tokens above which the agent compacts.
        keep_tool_results: tool_results micro-compaction keeps intact.
        bash_timeout: seconds before a bash command is killed.
        plan_timeout: seconds plan_approval waits for the lead.
    """

    name = "anthropic"

    def __init__(self, *, max_tokens: int = MAX_TOKENS, max_retries: int = MAX_RETRIES,
                 request_timeout: float | None = None,
                 compact_threshold: int = compaction.AUTO_COMPACT_TOKENS,
                 keep_tool_results: int = compaction.KEEP_RECENT_TOOL_RESULTS,
                 bash_timeout: float = tools.BASH_TIMEOUT, plan_timeout: float = PLAN_TIMEOUT) -> None:
        self.max_tokens = min(int(max_tokens), MAX_TOKENS)
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self.compact_threshold = compact_threshold
        self.keep_tool_results = keep_tool_results
        self.bash_timeout = bash_timeout
        self.plan_timeout = plan_timeout

    def accepts(self, task: dict) -> bool:
        """Return True: the model can attempt any task."""
        return True

    def run(self, ctx: AgentContext) -> Outcome:
        """Work on ``ctx.task`` in ``ctx.worktree`` until the model ends; never raises for task failures.

        Returns:
            Outcome(ok=True) at stop_reason end_turn or the idle tool;
            Outcome(ok=False, reason="max turns (N) reached") when ``ctx.max_turns`` model
            turns did not finish it; Outcome(ok=False, reason="budget ...") when the budget
            was used up (see the module docstring); Outcome(ok=False, reason="API error: ...")
            when a request failed after the SDK's retries; Outcome(shutdown=True) after the
            model approved a shutdown_request (``ok`` only if it also called idle in that
            turn); Outcome(ok=False, reason="stopped: ...") when ``ctx.port.cancel`` was set.
            ``usage`` sums every response, the compaction summaries included; ``summary``
            is the model's last text; ``details`` is ``{"cost_usd", "models", "num_turns",
            "session_id"}`` (cost in USD or None for an unpriced model; model turns, summary
            calls not counted; no session id).
        """
        session = _Session(self, ctx)
        try:
            return session.run()
        except Exception as e:  # a bug or an unexpected failure: fail the task, not the teammate
            return session.finish(False, reason=f"agent error: {type(e).__name__}: {one_line(str(e), 300)}")


#: Workspace tools refused until the lead approves a plan (``--plan-first``).
CHANGING_TOOLS = ("bash", "write_file", "edit_file")
#: Added to the system prompt with ``--plan-first``.
PLAN_FIRST_TEXT = ("\n\nPLAN FIRST: before you change anything, submit your plan with plan_approval and wait "
                   "for the lead's answer. If it is rejected, revise the plan with the feedback and submit it "
                   "again. bash, write_file and edit_file are refused until a plan is approved.")

#: The Outcome reason of a session ended by ``ctx.port.cancel``.
STOPPED_REASON = "stopped: the teammate was told to stop (a signal, or its lease on the task was lost)"


@dataclass
class _TurnFlags:
    idle: bool = False
    compact: bool = False
    focus: str | None = None
    shutdown: str | None = None  # the reason given when a shutdown_request was approved


@dataclass
class _Session:
    """One task's conversation and protocol state."""

    agent: AnthropicAgent
    ctx: AgentContext
    pending_shutdowns: dict[str, dict] = field(default_factory=dict)
    shutdown_approved: bool = False
    plan_approved: bool = False
    conv: Conversation | None = None

    def __post_init__(self) -> None:
        self.inbox = Outage(self._log, "the inbox")
        self.flags = _TurnFlags()

    # -- setup -----------------------------------------------------------------------

    def _identity(self) -> str:
        c = self.ctx
        return prompts.identity_block(c.name, c.role, c.team_name, c.task, c.worktree)

    def _cancel_event(self) -> threading.Event | None:
        """The runtime's stop signal (``ctx.port.cancel``), or None if the port has none."""
        return self.ctx.port.cancel

    def _start(self) -> Conversation:
        c, a = self.ctx, self.agent
        model = c.model or resolve_model(None, cwd=c.worktree)
        system = [{"type": "text", "cache_control": dict(conversation.CACHE),
                   "text": prompts.system_prompt(c.name, c.role, c.team_name, c.task, c.worktree, c.prompt)
                   + (PLAN_FIRST_TEXT if c.plan_first else "")}]
        conv = Conversation(model=model, system=system, tools=tool_definitions(),
                            max_tokens=conversation.clamp_max_tokens(model, a.max_tokens),
                            meter=Meter(prices=pricing.load_prices(c.worktree, warn=self._log)),
                            cancel=self._cancel_event(), log=self._log)
        self.conv = conv
        self.budget = Budget(c.budget_usd, c.budget_tokens)
        self.workspace = workspace.Workspace(c.worktree, conversation.bash_env(c.env), a.bash_timeout,
                                             self._cancel_event())
        first = [{"type": "text", "text": self._identity()},
                 {"type": "text", "text": f"Start work on task #{c.task.get('id')} (described in the system "
                                          "prompt). Finish by summarising what you did and calling idle."}]
        if c.messages:
            first.append({"type": "text", "text": self._inbox_text(c.messages, "Messages that arrived for you:")})
        conv.messages = [{"role": "user", "content": first}]
        return conv

    # -- the loop --------------------------------------------------------------------

    def run(self) -> Outcome:
        conv = self._start()
        api_error = conversation.api_error_type()
        max_turns = self.ctx.max_turns
        c = self.ctx
        try:
            conv.client = conversation.connect(self.agent.max_retries, self.agent.request_timeout)
            if not conversation.client_has_credentials(conv.client):
                return self.finish(False, reason="no API credentials: set ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN")
            while True:
                conv.check_cancel()
                self._deliver_inbox()
                conv.prepare(threshold=self.agent.compact_threshold, keep=self.agent.keep_tool_results,
                             identity=self._identity(), state_dir=c.state_dir, name=c.name, label=c.task.get("id"))
                if max_turns is not None and conv.turns >= max_turns:
                    return self.finish(False, reason=f"max turns ({max_turns}) reached without finishing")
                limit, over = self.budget.before_turn(conv.meter, conv.model, conv.max_tokens)
                if over:
                    self._log(over)
                    return self.finish(False, reason=over)
                reply = conv.create(limit)
                if reply.tool_uses:
                    self.flags = _TurnFlags()
                    conv.run_tools(reply.tool_uses, self._dispatch)
                    flags = self.flags
                    if flags.shutdown is not None:
                        return self.finish(flags.idle, shutdown=True,
                                           reason=f"shutdown approved: {flags.shutdown}".rstrip(": "))
                    if flags.idle:
                        return self.finish(True)
                    if flags.compact:
                        self._compact("requested with the compact tool", focus=flags.focus)
                    continue
                stop = reply.stop_reason
                if stop == "max_tokens":
                    conv.append_user([{"type": "text", "text": (
                        f"Your reply was cut off at max_tokens ({limit}). Continue, in shorter steps.")}])
                    continue
                if stop == "pause_turn":
                    continue
                if stop == "model_context_window_exceeded":
                    self._compact("the context window was full")
                    continue
                if stop == "refusal":
                    return self.finish(False, reason="the model declined the task (stop_reason refusal)")
                return self.finish(True)  # end_turn, stop_sequence
        except Stopped:
            self._log("stopping: no more model turns or tool calls")
            return self.finish(False, reason=STOPPED_REASON)
        except api_error as e:
            if conv.cancelled():
                return self.finish(False, reason=STOPPED_REASON)
            return self.finish(False, reason=f"API error: {conversation.describe_api_error(e)}")

    def finish(self, ok: bool, reason: str = "", shutdown: bool = False) -> Outcome:
        """Build the Outcome; a shutdown_request still unanswered is approved (the teammate is stopping)."""
        for request_id in list(self.pending_shutdowns):
            try:
                self.ctx.port.respond_shutdown(request_id, True, "the teammate finished its turn on the task")
                shutdown = True
                self._log(f"shutdown_response: {request_id} approved (unanswered when the task's work ended)")
            except Exception as e:
                self._log(f"shutdown_response: {request_id} failed: {one_line(str(e))}")
            self.pending_shutdowns.pop(request_id, None)
        conv = self.conv
        meter = conv.meter if conv else Meter()
        details = {"cost_usd": meter.cost_usd, "models": list(meter.models),
                   "num_turns": conv.turns if conv else 0, "session_id": None}
        return Outcome(ok=ok, summary=tools.cap_text(conv.last_text if conv else "", SUMMARY_CHARS),
                       usage=meter.usage, reason="" if ok else reason,
                       shutdown=shutdown or self.shutdown_approved, details=details)

    # -- inbox and compaction ----------------------------------------------------------

    def _log(self, line: str) -> None:
        try:
            self.ctx.port.log(line)
        except Exception:
            pass

    def _inbox_text(self, msgs: list[dict], intro: str) -> str:
        for m in msgs:
            if m.get("type") == "shutdown_request" and m.get("request_id"):
                self.pending_shutdowns[str(m["request_id"])] = m
        return prompts.messages_text(msgs, intro)

    def _deliver_inbox(self) -> None:
        """Between turns: drain the inbox into the context as user content labelled as data."""
        try:
            msgs = self.ctx.port.read_inbox()
        except Exception as e:  # logged once per outage, not every turn
            self.inbox.failed(one_line(str(e)))
            return
        self.inbox.ok()
        if msgs:
            self.conv.append_user([{"type": "text", "text": self._inbox_text(msgs, "New messages in your inbox:")}])

    def _compact(self, why: str, focus: str | None = None) -> None:
        c = self.ctx
        self.conv.compact(why, identity=self._identity(), state_dir=c.state_dir, name=c.name,
                          label=c.task.get("id"), focus=focus)

    # -- tools -------------------------------------------------------------------------

    def _dispatch(self, name: str, a: dict) -> tuple[str, bool]:
        port, flags = self.ctx.port, self.flags
        if name in workspace.NAMES:
            if self.ctx.plan_first and not self.plan_approved and name in CHANGING_TOOLS:
                raise tools.ToolError("plan first: submit your plan with plan_approval and wait for the lead's "
                                      "approval before you change anything (read_file works meanwhile)")
            return self.workspace.run(name, a)
        if name == "send_message":
            msg = port.send(str(a["to"]), str(a["content"]), a.get("msg_type") or "message")
            return f"Sent {msg.get('type', 'message')} to {a['to']} (id {msg.get('id')})", False
        if name == "read_inbox":
            msgs = port.read_inbox()
            return (self._inbox_text(msgs, "Your inbox:") if msgs else "(inbox empty)"), False
        if name == "task_list":
            rows = [{k: t.get(k) for k in ("id", "subject", "status", "owner", "blockedBy", "role")}
                    for t in port.task_list()]
            return prompts.wrap_data("board_data", json.dumps(rows, ensure_ascii=False, indent=1)), False
        if name == "task_get":
            task = port.task_get(int(a["task_id"]))
            return prompts.wrap_data("board_data", json.dumps(task, ensure_ascii=False, indent=1)), False
        if name == "task_create":
            blocked = [int(x) for x in a.get("blocked_by") or []]
            task = port.task_create(str(a["subject"]), str(a.get("description") or ""), blocked or None)
            return f"Created task #{task.get('id')}.\n" + prompts.wrap_data(
                "board_data", json.dumps(task, ensure_ascii=False, indent=1)), False
        if name == "claim_task":
            task = port.claim_task(int(a["task_id"]))
            return f"Claimed task #{task.get('id')} (status {task.get('status')}, owner {task.get('owner')}).", False
        if name == "shutdown_response":
            return self._shutdown_response(a, flags)
        if name == "plan_approval":
            return self._plan_approval(str(a["plan"]))
        if name == "idle":
            flags.idle = True
            return "Ending work on this task.", False
        if name == "compact":
            flags.compact = True
            flags.focus = a.get("focus") or None
            return "Compacting the conversation after this turn.", False
        raise tools.ToolError(f"unknown tool {name!r}")

    def _plan_approval(self, plan: str) -> tuple[str, bool]:
        if not plan.strip():
            raise tools.ToolError("plan is empty")
        answer = self.ctx.port.submit_plan(plan, self.agent.plan_timeout)
        status = answer.get("status", "pending")
        feedback = answer.get("feedback") or ""
        if status == "pending":
            return (f"No answer within {self.agent.plan_timeout:.0f} s (request_id "
                    f"{answer.get('request_id')}); it stays pending. Decide how to proceed, or check "
                    "your inbox later."), False
        if status == "approved":
            self.plan_approved = True
        text = f"Plan {status} (request_id {answer.get('request_id')})."
        if feedback:
            text += "\nFeedback:\n" + prompts.wrap_data("plan_feedback_data", feedback)
        return text, False

    def _shutdown_response(self, a: dict, flags: _TurnFlags) -> tuple[str, bool]:
        request_id = str(a["request_id"])
        approve = a["approve"]
        if isinstance(approve, str):
            approve = approve.strip().lower() in ("true", "yes", "1")
        reason = str(a.get("reason") or "")
        if not approve and not reason.strip():
            raise tools.ToolError("give a reason when you reject a shutdown_request")
        self.ctx.port.respond_shutdown(request_id, bool(approve), reason)
        self.pending_shutdowns.pop(request_id, None)
        if approve:
            flags.shutdown = reason
            self.shutdown_approved = True
            return "Shutdown approved: your work on this task ends after this turn.", False
        return "Shutdown rejected; keep working.", False
