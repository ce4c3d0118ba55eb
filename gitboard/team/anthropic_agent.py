"""The ``anthropic`` agent: the seed's tool-use loop (s02, s06, s09-s11) on the anthropic SDK.

This is the only gitboard module that imports ``anthropic``, and it does so inside
:meth:`AnthropicAgent.run` (the import costs over a second; the board path must not
pay it). Importing this module is cheap.

One task, one loop::

    read inbox -> micro-compact -> (auto-compact?) -> messages.create -> run tool_uses
        ^                                                                  |
        +------------------------------------------------------------------+
    ends: stop_reason end_turn, the idle tool, an approved shutdown_request,
          max_turns, an API error that outlived the SDK's retries, or a stop.

**Stopping.** The runtime asks for a stop by setting ``ctx.port.cancel`` (a
``threading.Event``; SIGTERM/Ctrl-C, or a lost lease). The session checks it before
each model turn and before each tool call, and while it waits for a model response
or a bash command (the command's process group is killed). It then returns
``Outcome(ok=False, reason="stopped ...")`` at once, as the shell agent does: after a
signal the runtime commits the work so far and releases the task; after a lost lease
it leaves the worktree to the new owner, untouched from then on.

Requests are non-streaming with ``max_tokens`` of at most :data:`MAX_TOKENS` (the SDK
refuses larger non-streaming requests). The SDK reads the key and base URL from the
environment (``ANTHROPIC_API_KEY`` or ``ANTHROPIC_AUTH_TOKEN``, ``ANTHROPIC_BASE_URL``)
and retries 408/409/429/5xx (so 529 overloaded) itself, ``max_retries`` times.
Prompt caching: the last tool and the system prompt carry ``cache_control`` (the
stable prefix), and so does the last content block of the request's messages (the
conversation so far, re-read on the next turn).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from gitboard.team import compaction, pricing, prompts, tools
from gitboard.team.accounting import Budget, Meter
from gitboard.team.agent import AgentContext, Outcome
from gitboard.team.models import resolve_model
from gitboard.team.outage import Outage

#: Largest max_tokens of a request: the SDK refuses non-streaming requests that may take
#: over 10 minutes (it estimates 128,000 tokens per hour, so about 21,000 is the limit).
MAX_TOKENS = 16_000
#: Retries the SDK makes on 408/409/429/5xx and connection errors (its exponential backoff
#: starts at 0.5 s and stops growing at 8 s; a ``retry-after`` header overrides it).
MAX_RETRIES = 4
#: Seconds the plan_approval tool waits for the lead's answer.
PLAN_TIMEOUT = 600.0
#: Longest summary kept in the Outcome, in characters.
SUMMARY_CHARS = 4_000
#: Fewest output tokens a turn may be given under a budget; a turn that could afford fewer ends the work.
MIN_TURN_OUTPUT = 256
#: Environment variables not passed to bash (the model has no business with the key).
SECRET_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")

_CACHE = {"type": "ephemeral"}


def _obj(properties: dict | None = None, required: list[str] | None = None) -> dict:
    schema: dict = {"type": "object", "properties": properties or {}}
    if required:
        schema["required"] = required
    return schema


_S = {"type": "string"}
_I = {"type": "integer"}

#: The tools offered to the model: Messages API tool definitions, input schemas as in the
#: seed (s02 file tools, s06 compact, s07 task tools, s09-s11 team tools) where it has them.
TOOLS: list[dict] = [
    {"name": "bash", "description": "Run a shell command in your worktree (timeout, output capped).",
     "input_schema": _obj({"command": _S}, ["command"])},
    {"name": "read_file", "description": "Read a text file; path relative to the worktree; limit = max lines.",
     "input_schema": _obj({"path": _S, "limit": _I}, ["path"])},
    {"name": "write_file", "description": "Write content to a file (path relative to the worktree), creating directories.",
     "input_schema": _obj({"path": _S, "content": _S}, ["path", "content"])},
    {"name": "edit_file", "description": "Replace the first occurrence of old_text with new_text in a file.",
     "input_schema": _obj({"path": _S, "old_text": _S, "new_text": _S}, ["path", "old_text", "new_text"])},
    {"name": "send_message", "description": "Send a message to a teammate or the lead.",
     "input_schema": _obj({"to": _S, "content": _S,
                           "msg_type": {"type": "string", "enum": ["message", "broadcast"]}}, ["to", "content"])},
    {"name": "read_inbox", "description": "Read and drain your inbox.", "input_schema": _obj()},
    {"name": "task_list", "description": "List all tasks on the board: id, subject, status, owner, blockedBy.",
     "input_schema": _obj()},
    {"name": "task_get", "description": "Get one task's details by id.",
     "input_schema": _obj({"task_id": _I}, ["task_id"])},
    {"name": "task_create", "description": "Create a new task on the board (blocked_by: ids it waits for).",
     "input_schema": _obj({"subject": _S, "description": _S, "blocked_by": {"type": "array", "items": _I}},
                          ["subject"])},
    {"name": "claim_task", "description": "Claim a task from the board by id.",
     "input_schema": _obj({"task_id": _I}, ["task_id"])},
    {"name": "shutdown_response", "description": "Answer a shutdown_request: approve, or reject with a reason.",
     "input_schema": _obj({"request_id": _S, "approve": {"type": "boolean"}, "reason": _S},
                          ["request_id", "approve"])},
    {"name": "plan_approval", "description": "Submit a plan to the lead and wait for approval or feedback.",
     "input_schema": _obj({"plan": _S}, ["plan"])},
    {"name": "idle", "description": "Signal that the work on this task is finished. Ends your work on it.",
     "input_schema": _obj()},
    {"name": "compact", "description": "Compact your conversation into a summary to free context.",
     "input_schema": _obj({"focus": {"type": "string", "description": "What to preserve in the summary"}})},
]


def tool_definitions() -> list[dict]:
    """Return a copy of :data:`TOOLS` with ``cache_control`` on the last tool (caches the tools prefix)."""
    defs = [dict(t) for t in TOOLS]
    defs[-1]["cache_control"] = dict(_CACHE)
    return defs


def _block_to_param(block: Any) -> dict:
    """Turn a response content block into the content-block dict sent back on the next turn."""
    kind = getattr(block, "type", None)
    if kind == "text":
        return {"type": "text", "text": block.text}
    if kind == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if kind == "thinking":
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    return block.model_dump(mode="json", exclude_none=True)


def _one_line(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_input(name: str, args: dict) -> str:
    """Return the short form of a tool_use input for the log line ``<tool>: <short input>``."""
    if not isinstance(args, dict):
        return _one_line(repr(args))
    if name == "bash":
        return _one_line(args.get("command", ""))
    if name in ("read_file", "edit_file"):
        return _one_line(args.get("path", ""))
    if name == "write_file":
        return _one_line(f"{args.get('path', '')} ({len(str(args.get('content', '')))} chars)")
    if name == "send_message":
        return _one_line(f"to {args.get('to')}: {args.get('content', '')}")
    if name == "plan_approval":
        return _one_line(args.get("plan", ""))
    return _one_line(json.dumps(args, ensure_ascii=False)) if args else ""


def _describe_api_error(err: Exception) -> str:
    status = getattr(err, "status_code", None)
    message = getattr(err, "message", None) or str(err)
    return f"{type(err).__name__}" + (f" {status}" if status else "") + f": {_one_line(message, 300)}"


def _append_user(messages: list[dict], blocks: list[dict]) -> None:
    """Append content blocks to the last message if it is the user's, else as a new user message."""
    if messages and messages[-1]["role"] == "user":
        content = messages[-1]["content"]
        if isinstance(content, str):
            messages[-1]["content"] = [{"type": "text", "text": content}, *blocks]
        else:
            content.extend(blocks)
    else:
        messages.append({"role": "user", "content": list(blocks)})


class AnthropicAgent:
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
            turns did not finish it; Outcome(ok=False, reason="API error: ...") when a
            request failed after the SDK's retries; Outcome(shutdown=True) after the model
            approved a shutdown_request (``ok`` only if it also called idle in that turn);
            Outcome(ok=False, reason="stopped: ...") when ``ctx.port.cancel`` was set (see
            the module docstring).
            ``usage`` sums every response, the compaction summaries included; ``summary``
            is the model's last text; ``details`` is ``{"model", "turns"}`` (model turns,
            summary calls not counted).
        """
        session = _Session(self, ctx)
        try:
            return session.run()
        except Exception as e:  # a bug or an unexpected failure: fail the task, not the teammate
            return session.finish(False, reason=f"agent error: {type(e).__name__}: {_one_line(str(e), 300)}")


#: Seconds between checks of the cancel event while a model request is in flight.
CANCEL_POLL = 0.1

#: The Outcome reason of a session ended by ``ctx.port.cancel``.
STOPPED_REASON = "stopped: the teammate was told to stop (a signal, or its lease on the task was lost)"


class _Stopped(Exception):
    """Raised inside a session when ``ctx.port.cancel`` is set; ends it with a stopped Outcome."""


@dataclass
class _TurnFlags:
    idle: bool = False
    compact: bool = False
    focus: str | None = None
    shutdown: str | None = None  # the reason given when a shutdown_request was approved


@dataclass
class _Session:
    """One task's conversation: messages, usage and protocol state."""

    agent: AnthropicAgent
    ctx: AgentContext
    meter: Meter = field(default_factory=Meter)
    messages: list[dict] = field(default_factory=list)
    last_text: str = ""
    last_usage: Any = None
    turns: int = 0
    pending_shutdowns: dict[str, dict] = field(default_factory=dict)
    shutdown_approved: bool = False
    model: str = ""

    def __post_init__(self) -> None:
        self.inbox = Outage(self._log, "the inbox")

    # -- setup -----------------------------------------------------------------------

    def _identity(self) -> str:
        c = self.ctx
        return prompts.identity_block(c.name, c.role, c.team_name, c.task, c.worktree)

    def _start(self, anthropic: Any) -> None:
        c = self.ctx
        kwargs: dict[str, Any] = {"max_retries": self.agent.max_retries}
        if self.agent.request_timeout is not None:
            kwargs["timeout"] = self.agent.request_timeout
        self.client = anthropic.Anthropic(**kwargs)
        self.model = c.model or resolve_model(None, cwd=c.worktree)
        self.meter = Meter(prices=pricing.load_prices(c.worktree, warn=self._log))
        self.budget = Budget(c.budget_usd, c.budget_tokens)
        self.max_tokens = self.agent.max_tokens
        self.turn_max_tokens = self.max_tokens
        try:
            from anthropic._constants import MODEL_NONSTREAMING_TOKENS  # private; guarded
            limit = MODEL_NONSTREAMING_TOKENS.get(self.model)
            if limit:
                self.max_tokens = min(self.max_tokens, limit)
        except Exception:
            pass
        self.tools = tool_definitions()
        self.system = [{"type": "text", "cache_control": dict(_CACHE),
                        "text": prompts.system_prompt(c.name, c.role, c.team_name, c.task, c.worktree, c.prompt)}]
        env = {**os.environ, **c.env}
        for key in SECRET_ENV:
            env.pop(key, None)
        self.env = env
        first = [{"type": "text", "text": self._identity()},
                 {"type": "text", "text": f"Start work on task #{c.task.get('id')} (described in the system "
                                          "prompt). Finish by summarising what you did and calling idle."}]
        if c.messages:
            first.append({"type": "text", "text": self._inbox_text(c.messages, "Messages that arrived for you:")})
        self.messages = [{"role": "user", "content": first}]

    # -- the loop --------------------------------------------------------------------

    def run(self) -> Outcome:
        import anthropic  # the only import of the SDK in gitboard; see the module docstring

        max_turns = self.ctx.max_turns
        try:
            self._start(anthropic)
            if not any(getattr(self.client, k, None) for k in ("api_key", "auth_token", "credentials")):
                return self.finish(False, reason="no API credentials: set ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN")
            while True:
                self._check_cancel()
                self._deliver_inbox()
                compaction.micro_compact(self.messages, keep=self.agent.keep_tool_results)
                estimate = compaction.estimate_tokens(self.messages, self.last_usage)
                if estimate > self.agent.compact_threshold:
                    self._compact("automatic", reason_detail=f"estimated {estimate} tokens")
                if max_turns is not None and self.turns >= max_turns:
                    return self.finish(False, reason=f"max turns ({max_turns}) reached without finishing")
                over = self._over_budget()
                if over:
                    self._log(over)
                    return self.finish(False, reason=over)
                self._check_cancel()
                response = self._create()
                self.turns += 1
                content = [_block_to_param(b) for b in response.content]
                if content:
                    self.messages.append({"role": "assistant", "content": content})
                text = "\n".join(b["text"] for b in content if b.get("type") == "text").strip()
                if text:
                    self.last_text = text
                tool_uses = [b for b in content if b.get("type") == "tool_use"]
                if tool_uses:
                    flags = self._run_tools(tool_uses)
                    if flags.shutdown is not None:
                        return self.finish(flags.idle, shutdown=True,
                                           reason=f"shutdown approved: {flags.shutdown}".rstrip(": "))
                    if flags.idle:
                        return self.finish(True)
                    if flags.compact:
                        self._compact("requested with the compact tool", focus=flags.focus)
                    continue
                stop = response.stop_reason
                if stop == "max_tokens":
                    _append_user(self.messages, [{"type": "text", "text": (
                        f"Your reply was cut off at max_tokens ({self.turn_max_tokens}). Continue, in "
                        "shorter steps.")}])
                    continue
                if stop == "pause_turn":
                    continue
                if stop == "model_context_window_exceeded":
                    self._compact("the context window was full")
                    continue
                if stop == "refusal":
                    return self.finish(False, reason="the model declined the task (stop_reason refusal)")
                return self.finish(True)  # end_turn, stop_sequence
        except _Stopped:
            self._log("stopping: no more model turns or tool calls")
            return self.finish(False, reason=STOPPED_REASON)
        except anthropic.AnthropicError as e:
            if self._cancelled():
                return self.finish(False, reason=STOPPED_REASON)
            return self.finish(False, reason=f"API error: {_describe_api_error(e)}")

    # -- cancellation ------------------------------------------------------------------

    def _cancel_event(self) -> threading.Event | None:
        """The runtime's stop signal (``ctx.port.cancel``), or None if the port has none."""
        event = getattr(self.ctx.port, "cancel", None)
        return event if isinstance(event, threading.Event) else None

    def _cancelled(self) -> bool:
        event = self._cancel_event()
        return event is not None and event.is_set()

    def _check_cancel(self) -> None:
        """Raise :class:`_Stopped` if the runtime asked the agent to stop."""
        if self._cancelled():
            raise _Stopped()

    def _call(self, fn: Any, /, **kwargs: Any) -> Any:
        """Call ``fn(**kwargs)`` (a model request), giving up on it if the cancel event is set.

        The request runs on a daemon thread, checked every :data:`CANCEL_POLL` seconds; after a
        stop its response, when it comes, is dropped (its tokens are not counted).

        Raises:
            _Stopped: the cancel event was set first. Whatever ``fn`` raised, otherwise.
        """
        event = self._cancel_event()
        if event is None:
            return fn(**kwargs)
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = fn(**kwargs)
            except BaseException as e:  # handed over to the session's thread
                box["error"] = e

        worker = threading.Thread(target=target, name="model-request", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(CANCEL_POLL)
            if event.is_set() and worker.is_alive():
                raise _Stopped()
        if "error" in box:
            raise box["error"]
        return box["value"]

    def _over_budget(self) -> str | None:
        """Before a model turn: the reason to stop (it starts with ``budget``), or None; sets the turn's max_tokens."""
        self.turn_max_tokens = self.max_tokens
        if not self.budget:
            return None
        reason = self.budget.unenforceable(self.model, self.meter.prices) or self.budget.reached(self.meter)
        if reason:
            return reason
        cap = self.budget.max_output(self.meter, self.model, self.meter.prices)
        if cap is not None and cap < MIN_TURN_OUTPUT:
            return f"budget reached: the next turn would pass it ({self.meter.line()})"
        self.turn_max_tokens = min(self.max_tokens, cap) if cap is not None else self.max_tokens
        return None

    def _create(self) -> Any:
        """One model turn: a non-streaming messages.create; the usage is added to the total.

        Raises:
            _Stopped: the runtime asked for a stop while the request was in flight.
        """
        response = self._call(self.client.messages.create,
                              model=self.model, max_tokens=self.turn_max_tokens, system=self.system, tools=self.tools,
                              messages=self._request_messages())
        self.meter.add(getattr(response, "model", None) or self.model, response.usage)
        self.last_usage = response.usage
        return response

    def _request_messages(self) -> list[dict]:
        """The messages to send: a copy whose last content block carries cache_control."""
        msgs = list(self.messages)
        last = dict(msgs[-1])
        content = last["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else [dict(b) for b in content]
        if blocks and blocks[-1].get("type") in ("text", "tool_result", "tool_use", "image", "document"):
            blocks[-1]["cache_control"] = dict(_CACHE)
        last["content"] = blocks
        msgs[-1] = last
        return msgs

    def finish(self, ok: bool, reason: str = "", shutdown: bool = False) -> Outcome:
        """Build the Outcome; a shutdown_request still unanswered is approved (the teammate is stopping)."""
        for request_id in list(self.pending_shutdowns):
            try:
                self.ctx.port.respond_shutdown(request_id, True, "the teammate finished its turn on the task")
                shutdown = True
                self._log(f"shutdown_response: {request_id} approved (unanswered when the task's work ended)")
            except Exception as e:
                self._log(f"shutdown_response: {request_id} failed: {_one_line(str(e))}")
            self.pending_shutdowns.pop(request_id, None)
        details = {"cost_usd": self.meter.cost_usd, "models": list(self.meter.models), "num_turns": self.turns,
                   "session_id": None}
        return Outcome(ok=ok, summary=tools.cap_text(self.last_text, SUMMARY_CHARS), usage=self.meter.usage,
                       reason="" if ok else reason, shutdown=shutdown or self.shutdown_approved, details=details)

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
            self.inbox.failed(_one_line(str(e)))
            return
        self.inbox.ok()
        if msgs:
            _append_user(self.messages, [{"type": "text", "text": self._inbox_text(msgs, "New messages in your inbox:")}])

    def _compact(self, why: str, focus: str | None = None, reason_detail: str = "") -> None:
        c = self.ctx
        result = compaction.compact(self.messages, create=lambda **kw: self._call(self.client.messages.create, **kw),
                                    model=self.model,
                                    identity=self._identity(), state_dir=c.state_dir, name=c.name,
                                    task_id=c.task.get("id"), focus=focus, reason=why)
        self.meter.add(self.model, result.usage)
        self.messages = result.messages
        self.last_usage = None
        self._log(f"compact: {why}{' (' + reason_detail + ')' if reason_detail else ''}; "
                  f"transcript {result.transcript}")

    # -- tools -------------------------------------------------------------------------

    def _run_tools(self, tool_uses: list[dict]) -> _TurnFlags:
        flags = _TurnFlags()
        results = []
        for block in tool_uses:
            self._check_cancel()  # no tool call after a stop: the worktree may be someone else's now
            name, args = block.get("name", ""), block.get("input") or {}
            self._log(f"{name}: {short_input(name, args)}".rstrip())
            try:
                if not isinstance(args, dict):
                    raise tools.ToolError("tool input must be an object")
                text, is_error = self._dispatch(name, args, flags)
            except _Stopped:
                raise
            except tools.ToolError as e:
                text, is_error = f"Error: {e}", True
            except KeyError as e:
                text, is_error = f"Error: missing input {e}", True
            except (TypeError, ValueError) as e:
                text, is_error = f"Error: bad input: {e}", True
            except Exception as e:  # board errors (NotFound, Conflict ...), OS errors
                text, is_error = f"Error: {getattr(e, 'message', None) or e}", True
            result = {"type": "tool_result", "tool_use_id": block.get("id"), "content": text or "(empty)"}
            if is_error:
                result["is_error"] = True
            results.append(result)
        _append_user(self.messages, results)
        return flags

    def _dispatch(self, name: str, a: dict, flags: _TurnFlags) -> tuple[str, bool]:
        c, port = self.ctx, self.ctx.port
        if name == "bash":
            r = tools.run_bash(c.worktree, a["command"], timeout=self.agent.bash_timeout, env=self.env,
                               cancel=self._cancel_event())
            if r.cancelled:
                raise _Stopped()
            return r.to_text(), r.timed_out
        if name == "read_file":
            return tools.read_file(c.worktree, a["path"], a.get("limit")), False
        if name == "write_file":
            return tools.write_file(c.worktree, a["path"], a["content"]), False
        if name == "edit_file":
            return tools.edit_file(c.worktree, a["path"], a["old_text"], a["new_text"]), False
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
            plan = str(a["plan"])
            if not plan.strip():
                raise tools.ToolError("plan is empty")
            answer = port.submit_plan(plan, self.agent.plan_timeout)
            status = answer.get("status", "pending")
            feedback = answer.get("feedback") or ""
            if status == "pending":
                return (f"No answer within {self.agent.plan_timeout:.0f} s (request_id "
                        f"{answer.get('request_id')}); it stays pending. Decide how to proceed, or check "
                        "your inbox later."), False
            text = f"Plan {status} (request_id {answer.get('request_id')})."
            if feedback:
                text += "\nFeedback:\n" + prompts.wrap_data("plan_feedback_data", feedback)
            return text, False
        if name == "idle":
            flags.idle = True
            return "Ending work on this task.", False
        if name == "compact":
            flags.compact = True
            flags.focus = a.get("focus") or None
            return "Compacting the conversation after this turn.", False
        raise tools.ToolError(f"unknown tool {name!r}")

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
