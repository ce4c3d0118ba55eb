"""The model-driven lead's runtime: :class:`LeadSession`, one conversation driven by the user's prompts.

Each prompt runs the Messages API tool-use loop over the lead's tools
(:mod:`gitboard.lead.tools`) until the model stops, with the loop core the teammates
use (:class:`~gitboard.llm.conversation.Conversation`: prompt caching, usage and cost,
compaction, cancellable requests).

**The lead's inbox.** Before each model call the session drains the lead's inbox and puts
what is new into the conversation as labelled data inside the user turn -- never as an
assistant message the model did not write:

- messages as ``<message_data from=... type=... request_id=...>`` blocks, whole;
- teammates' status changes since the last look (idle, working, shutdown, dead; tasks they
  finished), condensed to one line per teammate in a ``<team_updates>`` block, so a team
  of idle teammates costs a line each, once, not a message per poll.

**Persistence.** After every prompt the conversation (messages, usage, cost, the last
look at the team) is written to ``<git-common-dir>/gitboard/lead/session.json``
(atomically: a temporary file renamed over it). ``resume=True`` continues it; a new
session moves the old file aside to ``session-<UTC time>.json`` first, so no
conversation is lost. readline history lives next to it, in ``lead/history``.

No anthropic import at module level: :meth:`LeadSession.connect` imports the SDK.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gitboard.board.names import LEAD
from gitboard.board.errors import Invalid
from gitboard.lead.progress import short_lead_input
from gitboard.llm import compaction, conversation, pricing, prompts, workspace
from gitboard.llm.accounting import Meter
from gitboard.agents.base import Usage
from gitboard.llm.conversation import Conversation, Stopped, ToolCall
from gitboard.lead.saved import lead_dir
from gitboard.lead.board import LeadBoard
from gitboard.lead.tools import TOOLS, LeadTools, system_prompt
from gitboard.llm.models import resolve_model

#: Format version of ``session.json``.
SESSION_VERSION = 1
#: Model turns one prompt may take before the lead stops and reports it.
MAX_TURNS_PER_PROMPT = 50
#: Task statuses that end a teammate's work on a task (shown in the team updates).
_FINISHED = ("completed", "failed", "merged")


@dataclass
class TurnResult:
    """What one prompt did.

    Attributes:
        text: the model's final text (its last reply's text blocks).
        tool_calls: the tool calls made, in order.
        stop_reason: the last response's stop_reason; ``cancelled`` after Ctrl-C;
            ``api_error``, ``max_turns`` or ``refusal`` when the prompt ended early.
        error: one line saying what went wrong, or "".
        usage: tokens of this prompt's responses (compaction included).
        cost_usd: their cost in USD, or None when a model had no price.
    """

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    stop_reason: str | None = None
    error: str = ""
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None

    @property
    def ok(self) -> bool:
        """True if the model ended its turn (end_turn or stop_sequence)."""
        return self.stop_reason in ("end_turn", "stop_sequence")

    def to_json(self) -> dict:
        """Return ``{"text", "tool_calls": [{"name", "input", "is_error"}], "usage", "cost_usd"}``."""
        return {"text": self.text, "tool_calls": [c.to_json() for c in self.tool_calls],
                "usage": self.usage.to_json(), "cost_usd": self.cost_usd}


def team_snapshot(roster: dict, tasks: list[dict]) -> dict:
    """Return what the team updates compare: ``{"members": {name: [status, task]}, "tasks": {id: [status, owner]}}``."""
    return {"members": {m["name"]: [m.get("status"), m.get("task")] for m in roster.get("members", [])},
            "tasks": {str(t["id"]): [t.get("status"), t.get("owner")] for t in tasks}}


def team_updates(before: dict | None, after: dict, subjects: dict[str, str] | None = None,
                 reasons: dict[str, str] | None = None) -> list[str]:
    """Return one line per teammate whose status or task changed, or who finished a task, from ``before`` to ``after``.

    Pure. ``before`` None (the first look) lists every teammate not shut down. A line reads
    ``alice: idle; completed #3 (Write hello.txt)``, ``bob: working on #4`` or ``carol: idle;
    failed #5 (Port the parser): budget reached ...``; subjects are cut to 60 characters and
    failure reasons (``reasons``: task id -> the result's reason) to 100.
    """
    subjects, reasons = subjects or {}, reasons or {}
    old_members = (before or {}).get("members", {})
    old_tasks = (before or {}).get("tasks", {})
    finished: dict[str, list[str]] = {}
    for tid, (status, owner) in after.get("tasks", {}).items():
        if status in _FINISHED and owner and old_tasks.get(tid, [None])[0] != status and before is not None:
            subject = conversation.one_line(subjects.get(tid, ""), 60)
            note = f"{status} #{tid}" + (f" ({subject})" if subject else "")
            if status == "failed" and reasons.get(tid):
                note += ": " + conversation.one_line(reasons[tid], 100)
            finished.setdefault(owner, []).append(note)
    lines = []
    for name, (status, task) in sorted(after.get("members", {}).items()):
        changed = old_members.get(name) != [status, task] and not (before is None and status == "shutdown")
        if not changed and name not in finished:
            continue
        line = f"{name}: {status}" + (f" on #{task}" if task is not None and status == "working" else "")
        if finished.get(name):
            line += "; " + ", ".join(finished[name])
        lines.append(line)
    return lines


class LeadSession:
    """The lead's conversation in the repository at ``repo_dir``.

    Args:
        repo_dir: a directory of the lead's clone.
        model: the model id (default: :func:`gitboard.llm.models.resolve_model`).
        max_tokens: max_tokens per model turn (clamped as the SDK requires).
        max_retries: retries the SDK makes per request.
        request_timeout: seconds per request (None: the SDK's default).
        resume: continue the saved conversation instead of starting a new one.
        log: where progress lines go (tool calls ``<tool>: <input>``, compaction notes).
        max_turns: model turns one prompt may take.
        compact_threshold: estimated context tokens above which the conversation is compacted.

    Raises:
        Invalid: ``resume`` with no saved conversation, or a saved file that cannot be read.
        GitFailure: not a git repository, no board (``gitboard init``), or the remote is unreachable.
    """

    def __init__(self, repo_dir: str | os.PathLike, *, model: str | None = None,
                 max_tokens: int = conversation.MAX_TOKENS, max_retries: int = conversation.MAX_RETRIES,
                 request_timeout: float | None = None, resume: bool = False,
                 log: Callable[[str], None] | None = None, max_turns: int = MAX_TURNS_PER_PROMPT,
                 compact_threshold: int = compaction.AUTO_COMPACT_TOKENS,
                 on_step: Callable[[str, Any], None] | None = None) -> None:
        self.board = LeadBoard(repo_dir)
        #: called as a prompt runs: ``("text", str)`` for the model's words before it calls tools,
        #: ``("tool", ToolCall)`` for each tool call once it has run (the REPL shows them live)
        self.on_step = on_step or (lambda kind, value: None)
        self.repo = self.board.work_dir()
        self.dir = lead_dir(self.board.state_dir())
        self.path = self.dir / "session.json"
        self.log = log or (lambda line: None)
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self.max_turns = max_turns
        self.compact_threshold = compact_threshold
        self.snapshot: dict | None = None
        model = resolve_model(model, cwd=self.repo)
        team_name = self.board.board().team.team_name  # no board: one error line, before any request
        self.resumed = resume
        self.conv = Conversation(model=model, tools=conversation.cached_tools(TOOLS),
                                 system=[{"type": "text", "cache_control": dict(conversation.CACHE),
                                          "text": system_prompt(team_name, self.repo)}],
                                 max_tokens=conversation.clamp_max_tokens(model, max_tokens),
                                 meter=Meter(prices=pricing.load_prices(self.repo, warn=self.log)), log=self.log)
        self.space = workspace.Workspace(self.repo, conversation.bash_env())
        self.tools = LeadTools(self.board, self.space, log=lambda line: self.log(line), inbox_text=self._inbox_text)
        if resume:
            self._load()
        else:
            self._set_aside()

    # -- persistence -------------------------------------------------------------------

    @property
    def history_path(self) -> Path:
        """The readline history file."""
        return self.dir / "history"

    def _load(self) -> None:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise Invalid(f"no saved lead conversation to resume ({self.path} does not exist)") from None
        except (OSError, ValueError) as e:
            raise Invalid(f"cannot read the saved lead conversation {self.path}: {e}") from None
        if not isinstance(doc, dict) or doc.get("version") != SESSION_VERSION or not isinstance(doc.get("messages"), list):
            raise Invalid(f"{self.path} is not a lead conversation of format version {SESSION_VERSION}")
        self.conv.messages = doc["messages"]
        self.conv.turns = int(doc.get("turns") or 0)
        meter = doc.get("meter") or {}
        m = self.conv.meter
        m.usage.add(meter.get("usage") or {})
        m.priced_usd = float(meter.get("priced_usd") or 0.0)
        m.models = [str(x) for x in meter.get("models") or []]
        m.unpriced = [str(x) for x in meter.get("unpriced") or []]
        m.responses = int(meter.get("responses") or 0)
        m.unpriced_responses = int(meter.get("unpriced_responses") or 0)
        self.snapshot = doc.get("snapshot")
        if conversation.unanswered_tool_uses(self.conv.messages):  # saved mid-turn: answer them
            self.conv.append_user([{"type": "tool_result", "tool_use_id": b.get("id"), "is_error": True,
                                    "content": "Not run: the session ended first."}
                                   for b in conversation.unanswered_tool_uses(self.conv.messages)])

    def _set_aside(self) -> None:
        """Move a saved conversation aside (``session-<UTC time>.json``) so a new session loses nothing."""
        if self.path.exists():
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            target = self.dir / f"session-{stamp}-{time.time_ns() % 1_000_000:06d}.json"
            try:
                os.replace(self.path, target)
            except OSError as e:
                self.log(f"cannot move the last conversation aside ({e}); it will be overwritten")

    def save(self) -> None:
        """Write the conversation to :attr:`path` atomically. Raises OSError."""
        m = self.conv.meter
        doc = {"version": SESSION_VERSION, "model": self.conv.model, "turns": self.conv.turns,
               "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "meter": {"usage": m.usage.to_json(), "priced_usd": m.priced_usd, "models": m.models,
                         "unpriced": m.unpriced, "responses": m.responses,
                         "unpriced_responses": m.unpriced_responses},
               "snapshot": self.snapshot, "messages": self.conv.messages}
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".session-{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc, ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(tmp, self.path)

    # -- the inbox -----------------------------------------------------------------------

    def _inbox_text(self, msgs: list[dict]) -> str:
        return prompts.messages_text(msgs, "New messages in your inbox:")

    def news(self, *, drain: bool = True) -> list[dict]:
        """Return the text blocks of what is new: team updates (one line per teammate) and inbox messages.

        With ``drain`` the lead's inbox is drained (one commit); the snapshot of the team moves on.
        A board that cannot be read gives a one-line note instead, and nothing is lost (the
        messages stay in the inbox for the next look).
        """
        blocks: list[dict] = []
        try:
            roster, tasks = self.board.look()
        except Exception as e:
            return [{"type": "text", "text": f"(the board could not be read: {conversation.one_line(e, 200)})"}]
        after = team_snapshot(roster, tasks)
        reasons = {str(t["id"]): t["result"].get("reason", "") for t in tasks if isinstance(t.get("result"), dict)}
        lines = team_updates(self.snapshot, after, {str(t["id"]): t.get("subject", "") for t in tasks}, reasons)
        self.snapshot = after
        if lines:
            blocks.append({"type": "text", "text": prompts.wrap_data("team_updates", "\n".join(lines))})
        if drain:
            try:
                msgs = self.board.drain_inbox()
            except Exception as e:
                msgs = []
                blocks.append({"type": "text", "text": f"(the inbox could not be read: {conversation.one_line(e, 200)})"})
            if msgs:
                blocks.append({"type": "text", "text": self._inbox_text(msgs)})
        return blocks

    # -- a prompt ------------------------------------------------------------------------

    def connect(self) -> None:
        """Create the SDK client (imports anthropic)."""
        if self.conv.client is None:
            self.conv.client = conversation.connect(self.max_retries, self.request_timeout)

    def _identity(self) -> str:
        return self.conv.system[0]["text"].split("</identity>")[0] + "</identity>"

    def turn(self, prompt: str) -> TurnResult:
        """Run ``prompt`` through the tool-use loop until the model stops; save the conversation.

        Ctrl-C (KeyboardInterrupt) cancels the model call or tool in flight: the result's
        stop_reason is ``cancelled`` and the session stays usable. An API error that
        outlived the SDK's retries ends the prompt with stop_reason ``api_error``.
        """
        self.connect()
        api_error = conversation.api_error_type()
        conv = self.conv
        mark = conv.meter.mark()
        result = TurnResult()
        try:
            conv.append_user([*self.news(), {"type": "text", "text": prompt}])
            for n in range(self.max_turns + 1):
                if n:
                    news = self.news()
                    if news:
                        conv.append_user(news)
                if n == self.max_turns:
                    result.stop_reason, result.error = "max_turns", f"stopped after {self.max_turns} model turns"
                    break
                conv.prepare(threshold=self.compact_threshold, keep=compaction.KEEP_RECENT_TOOL_RESULTS,
                             identity=self._identity(), state_dir=self.dir, name=LEAD, label="session")
                reply = conv.create()
                result.stop_reason = reply.stop_reason
                if reply.text:
                    result.text = reply.text
                if reply.tool_uses:
                    if reply.text:
                        self.on_step("text", reply.text)
                    calls = conv.run_tools(reply.tool_uses, self.tools.dispatch, short=short_lead_input)
                    result.tool_calls += calls
                    for call in calls:
                        self.on_step("tool", call)
                    continue
                if reply.stop_reason == "max_tokens":
                    conv.append_user([{"type": "text", "text": "Your reply was cut off at max_tokens. Continue."}])
                    continue
                if reply.stop_reason == "pause_turn":
                    continue
                if reply.stop_reason == "refusal":
                    result.error = "the model declined (stop_reason refusal)"
                break
        except (KeyboardInterrupt, Stopped):
            result.stop_reason, result.error = "cancelled", "cancelled"
        except api_error as e:
            result.stop_reason, result.error = "api_error", f"API error: {conversation.describe_api_error(e)}"
        finally:
            result.usage, result.cost_usd = conv.meter.since(mark)
            try:
                self.save()
            except OSError as e:
                self.log(f"cannot save the conversation to {self.path}: {e}")
        return result
