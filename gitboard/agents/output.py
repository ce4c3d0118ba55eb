"""Reading what agent CLIs print: the result text, usage, cost, models, turns, session id, errors.

Each reader takes the CLI's output one line at a time (:meth:`Reader.feed`, which returns
short lines for the teammate's log) and keeps a running :class:`Report`: the usage
streamed so far (for budgets) and, at the end, what the CLI itself reported.

- ``claude``: Claude Code's ``--output-format stream-json --verbose`` lines, or the one
  ``--output-format json`` object. Events: ``system``/``init`` (``session_id``, ``model``),
  ``assistant`` (one per content block; ``message.id`` and ``message.usage`` repeat for
  the blocks of one API message, so usage is counted once per message id), ``user``
  (tool results), and the final ``result`` (``result``, ``is_error``, ``subtype``,
  ``usage``, ``total_cost_usd``, ``modelUsage``, ``num_turns``, ``session_id``,
  ``permission_denials``, ``errors``). Shape as printed by Claude Code 2.1.197.
- ``codex``: ``codex exec --json`` JSON Lines: ``thread.started`` (``thread_id``, the
  session), ``item.completed`` (``agent_message`` text, ``command_execution``,
  ``file_change``), ``turn.completed`` (``usage``: ``input_tokens``,
  ``cached_input_tokens``, ``cache_write_input_tokens``, ``output_tokens``; summed over the
  turn's requests), ``turn.failed`` (``error.message``), and
  ``error`` (``message``; also its retries, ``Reconnecting... 2/5``, so an error counts only
  if no turn completes after it). Codex reports no cost. As printed by codex-cli 0.171.
- ``aider``: plain text; its ``Tokens: 1.2k sent, 250 received. Cost: $0.01 message,
  $0.02 session.`` lines give usage and cost; the last lines are the summary.
- ``text``: plain text; the last lines are the summary.

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from gitboard.agents.base import Usage

#: Lines of plain output kept as the summary of a ``text``/``aider`` run.
SUMMARY_LINES = 20


@dataclass
class Report:
    """What an agent CLI reported about one run.

    Attributes:
        summary: its final result text ("" if none).
        usage: tokens; streamed so far, replaced by the CLI's final figures when it prints them.
        cost_usd: USD as the CLI reported it, or None.
        models: the models that answered.
        num_turns: model turns, or None.
        session_id: the CLI's session (Claude Code's ``session_id``, Codex's ``thread_id``), or None.
        error: the CLI's own message when it reported an error result ("" if none).
        subtype: the final result's subtype (Claude Code: ``success``, ``error_max_turns``,
            ``error_max_budget_usd``, ``error_during_execution`` ...), or "".
        denials: tool calls the CLI's permission rules denied (``tool_name`` and input).
        tool_errors: the error texts of failed tool calls, as the CLI gave them to the model
            (Claude Code's permission refusals among them), oldest first, at most 20.
        final: True once the final result was read.
    """

    summary: str = ""
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    models: list[str] = field(default_factory=list)
    num_turns: int | None = None
    session_id: str | None = None
    error: str = ""
    subtype: str = ""
    denials: list[dict] = field(default_factory=list)
    tool_errors: list[str] = field(default_factory=list)
    final: bool = False

    @property
    def tokens(self) -> int:
        """Every token counted: input + output + cache reads + cache writes."""
        u = self.usage
        return u.input_tokens + u.output_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens


def _model_name(name: str) -> str:
    """``claude-opus-4-8[1m]`` -> ``claude-opus-4-8``: Claude Code marks the context-window variant in brackets."""
    return re.sub(r"\[[^\]]*\]$", "", name)


def _short(text: Any, limit: int = 160) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class Reader:
    """Base reader: plain text (``text``). Subclasses read structured output."""

    name = "text"

    def __init__(self) -> None:
        self.report = Report()
        self._tail: list[str] = []

    def feed(self, line: str) -> list[str]:
        """Read one line of output; return lines for the teammate's log (without the ``| `` prefix)."""
        self._keep(line)
        return [line.rstrip("\n")]

    def _keep(self, line: str) -> None:
        self._tail.append(line.rstrip("\n"))
        del self._tail[:-SUMMARY_LINES]

    def finish(self) -> Report:
        """Return the report after the last line (the summary falls back to the output's last lines)."""
        if not self.report.summary:
            self.report.summary = "\n".join(self._tail).strip()
        return self.report


class JsonLinesReader(Reader):
    """A reader of one JSON event per line: :meth:`_event` reads each object; a line that is
    not JSON is kept as plain output (for the summary's fallback), other JSON values are skipped."""

    def feed(self, line: str) -> list[str]:
        """Read one line of output; return lines for the teammate's log."""
        try:
            event = json.loads(line)
        except ValueError:
            self._keep(line)
            return [line.rstrip("\n")] if line.strip() else []
        return self._event(event) if isinstance(event, dict) else []

    def _event(self, event: dict) -> list[str]:
        """Read one JSON event; return lines for the teammate's log."""
        raise NotImplementedError


class ClaudeReader(JsonLinesReader):
    """Claude Code's stream-json (or json) output; see the module docstring."""

    name = "claude"

    def __init__(self) -> None:
        super().__init__()
        self._per_message: dict[str, dict[str, int]] = {}

    def _event(self, event: dict) -> list[str]:
        kind = event.get("type")
        r = self.report
        if isinstance(event.get("session_id"), str):
            r.session_id = event["session_id"]
        if kind == "system" and event.get("subtype") == "init":
            model = event.get("model")
            if isinstance(model, str) and _model_name(model) not in r.models:
                r.models.append(_model_name(model))
            return [f"claude: session {r.session_id}, model {model}, permission mode {event.get('permissionMode')}"]
        if kind == "assistant":
            return self._assistant(event.get("message") or {})
        if kind == "user":
            out = []
            for block in _blocks((event.get("message") or {}).get("content")):
                if block.get("type") == "tool_result" and block.get("is_error"):
                    text = _text_of(block.get("content"))
                    if len(r.tool_errors) < 20:
                        r.tool_errors.append(text)
                    out.append(f"claude: tool error: {_short(text)}")
            return out
        if kind == "result":
            self._result(event)
            return [f"claude: {r.subtype or 'result'}" + (" (error)" if event.get("is_error") else "")
                    + (f", {r.num_turns} turns" if r.num_turns is not None else "")
                    + (f", ${r.cost_usd:.4f}" if r.cost_usd is not None else "")]
        return []

    def _assistant(self, message: dict) -> list[str]:
        r = self.report
        usage = message.get("usage")
        mid = message.get("id")
        if isinstance(usage, dict) and isinstance(mid, str) and message.get("model") != "<synthetic>":
            seen = self._per_message.setdefault(mid, {})
            for k in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
                seen[k] = max(seen.get(k, 0), int(usage.get(k) or 0))
            if not r.final:
                total = Usage()
                for one in self._per_message.values():
                    total.add(one)
                r.usage = total
        model = message.get("model")
        if isinstance(model, str) and model != "<synthetic>" and _model_name(model) not in r.models:
            r.models.append(_model_name(model))
        out = []
        for block in _blocks(message.get("content")):
            if block.get("type") == "tool_use":
                out.append(f"claude: tool {block.get('name')} {_short(json.dumps(block.get('input'), ensure_ascii=False), 120)}")
            elif block.get("type") == "text" and block.get("text"):
                out.append(f"claude: {_short(block['text'])}")
        return out

    def _result(self, event: dict) -> None:
        r = self.report
        r.final = True
        r.subtype = str(event.get("subtype") or "")
        result = event.get("result")
        r.summary = result.strip() if isinstance(result, str) else r.summary
        # the result's usage; modelUsage (per model) when that counts more -- a run stopped on
        # its budget reports zeros in usage and the real figures in modelUsage (Claude Code 2.1)
        u = Usage()
        if isinstance(event.get("usage"), dict):
            u.add(event["usage"])
        per_model = Usage()
        for one in (event.get("modelUsage") or {}).values() if isinstance(event.get("modelUsage"), dict) else ():
            if isinstance(one, dict):
                per_model.add({"input_tokens": one.get("inputTokens"), "output_tokens": one.get("outputTokens"),
                               "cache_read_input_tokens": one.get("cacheReadInputTokens"),
                               "cache_creation_input_tokens": one.get("cacheCreationInputTokens")})
        best = max((u, per_model, r.usage), key=lambda x: sum(x.to_json().values()))
        r.usage = best
        cost = event.get("total_cost_usd", event.get("cost_usd"))
        if isinstance(cost, (int, float)) and not isinstance(cost, bool):
            r.cost_usd = round(float(cost), 6)
        if isinstance(event.get("modelUsage"), dict):
            for name in event["modelUsage"]:
                if _model_name(name) not in r.models:
                    r.models.append(_model_name(name))
        if isinstance(event.get("num_turns"), int):
            r.num_turns = event["num_turns"]
        denials = event.get("permission_denials")
        if isinstance(denials, list):
            r.denials = [d for d in denials if isinstance(d, dict)]
        failed = bool(event.get("is_error")) or (r.subtype not in ("", "success"))
        if failed:
            errors = event.get("errors")
            text = r.summary or ("; ".join(map(str, errors)) if isinstance(errors, list) and errors else "")
            r.error = text or f"Claude Code ended with {r.subtype or 'an error'}"


class CodexReader(JsonLinesReader):
    """``codex exec --json`` JSON Lines; see the module docstring."""

    name = "codex"

    def __init__(self) -> None:
        super().__init__()
        self._turns = 0
        self._messages: list[str] = []
        self._pending = ""

    def finish(self) -> Report:
        if self._pending and not self.report.error:
            self.report.error = self._pending
        return super().finish()

    def _event(self, event: dict) -> list[str]:
        r = self.report
        kind = event.get("type")
        if kind in ("thread.started", "thread.resumed") and isinstance(event.get("thread_id"), str):
            r.session_id = event["thread_id"]
            return [f"codex: thread {r.session_id}"]
        if kind == "turn.completed":
            self._turns += 1
            r.num_turns = self._turns
            usage = event.get("usage") or {}
            cached = int(usage.get("cached_input_tokens") or 0)
            written = int(usage.get("cache_write_input_tokens") or 0)
            r.usage.add({"input_tokens": max(0, int(usage.get("input_tokens") or 0) - cached - written),
                         "cache_read_input_tokens": cached, "cache_creation_input_tokens": written,
                         "output_tokens": int(usage.get("output_tokens") or 0)})
            r.final = True
            self._pending = ""
            return [f"codex: turn completed ({r.tokens:,} tokens so far)"]
        if kind == "turn.failed":
            err = event.get("error") if isinstance(event.get("error"), dict) else event
            r.error = str(err.get("message") or "codex reported a failed turn")
            return [f"codex: turn failed: {_short(r.error)}"]
        if kind == "error":  # also "Reconnecting... 2/5 (...)": fatal only if no turn completes after it
            self._pending = str(event.get("message") or "codex reported an error")
            return [f"codex: error: {_short(self._pending)}"]
        item = event.get("item") if isinstance(event.get("item"), dict) else None
        if kind == "item.completed" and item:
            itype = item.get("type") or item.get("item_type")
            if itype == "agent_message" and item.get("text"):
                self._messages.append(str(item["text"]))
                r.summary = self._messages[-1].strip()
                return [f"codex: {_short(item['text'])}"]
            if itype == "command_execution":
                return [f"codex: ran {_short(item.get('command'), 120)} (exit {item.get('exit_code')})"]
            if itype == "file_change":
                paths = [c.get("path") for c in item.get("changes") or [] if isinstance(c, dict)]
                return [f"codex: changed {', '.join(map(str, paths)) or 'files'}"]
            if itype == "error" and item.get("message"):
                return [f"codex: error item: {_short(item['message'])}"]
        if kind == "item.started" and item and (item.get("type") or item.get("item_type")) == "command_execution":
            return [f"codex: running {_short(item.get('command'), 120)}"]
        return []


_AIDER_TOKENS = re.compile(r"Tokens:\s*([\d.,]+)([km]?)\s+sent(?:,\s*([\d.,]+)([km]?)\s+cache write)?"
                           r"(?:,\s*([\d.,]+)([km]?)\s+cache hit)?,\s*([\d.,]+)([km]?)\s+received", re.I)
_AIDER_COST = re.compile(r"Cost:\s*\$([\d.,]+)\s+message,\s*\$([\d.,]+)\s+session", re.I)
_AIDER_MODEL = re.compile(r"^(?:Main model|Model):\s*(\S+)", re.I)


def _aider_number(digits: str | None, suffix: str | None) -> int:
    if not digits:
        return 0
    value = float(digits.replace(",", ""))
    return int(round(value * {"k": 1e3, "m": 1e6}.get((suffix or "").lower(), 1)))


class AiderReader(Reader):
    """aider's plain output with its ``Tokens:`` and ``Cost:`` lines; see the module docstring."""

    name = "aider"

    def feed(self, line: str) -> list[str]:
        text = line.rstrip("\n")
        r = self.report
        m = _AIDER_TOKENS.search(text)
        if m:
            sent = _aider_number(m.group(1), m.group(2))
            write = _aider_number(m.group(3), m.group(4))
            hit = _aider_number(m.group(5), m.group(6))
            r.usage.add({"input_tokens": max(0, sent - write - hit), "cache_creation_input_tokens": write,
                         "cache_read_input_tokens": hit, "output_tokens": _aider_number(m.group(7), m.group(8))})
            r.num_turns = (r.num_turns or 0) + 1
        c = _AIDER_COST.search(text)
        if c:
            r.cost_usd = round(float(c.group(2).replace(",", "")), 6)
        mm = _AIDER_MODEL.search(text)
        if mm and mm.group(1) not in r.models:
            r.models.append(mm.group(1).rstrip(","))
        if not (m or c):
            self._keep(line)
        return [text] if text.strip() else []


def _blocks(content: Any) -> list[dict]:
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(b.get("text", "") for b in _blocks(content))


READERS: dict[str, type[Reader]] = {"text": Reader, "claude": ClaudeReader, "codex": CodexReader,
                                    "aider": AiderReader}


def reader(name: str) -> Reader:
    """Return a new reader for ``name`` (one of :data:`READERS`; unknown names read plain text)."""
    return READERS.get(name, Reader)()
