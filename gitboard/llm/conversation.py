"""The Messages API tool-use loop core, shared by the anthropic teammate agent and the lead.

One :class:`Conversation` holds what both keep the same way: the client, the model, the
system prompt and tool definitions, the messages so far, prompt caching, usage and cost
(a :class:`~gitboard.llm.accounting.Meter`), compaction, a cancellable model request,
and running a turn's tool_uses into tool_results. The callers keep only what differs:
their tools, their prompts, and when a turn ends.

**The SDK.** Importing this module is cheap: ``anthropic`` is imported inside
:func:`connect` (it costs over a second; the board path must not pay it). Requests are
non-streaming (streamed when :attr:`Conversation.on_text` is set: the lead's REPL) with
``max_tokens`` of at most :data:`MAX_TOKENS` (the SDK refuses larger non-streaming requests). The SDK reads the key and base URL from the environment
(``ANTHROPIC_API_KEY`` or ``ANTHROPIC_AUTH_TOKEN``, ``ANTHROPIC_BASE_URL``) and retries
408/409/429/5xx (so 529 overloaded) itself, ``max_retries`` times.

**Prompt caching.** The last tool definition and the system prompt carry
``cache_control`` (the stable prefix), and so does the last content block of each
request's messages (the conversation so far, re-read on the next turn). The messages kept
in :attr:`Conversation.messages` carry none: the marker moves with the end of the conversation.

**Cancelling.** :meth:`Conversation.call` runs the request on a daemon thread and gives
up on it when the ``cancel`` event is set (raising :class:`Stopped`) or when the calling
thread is interrupted (Ctrl-C: KeyboardInterrupt passes through); the response of an
abandoned request, when it comes, is dropped and its tokens are not counted.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from gitboard.llm import compaction, tools
from gitboard.llm.accounting import Meter

#: Largest max_tokens of a request: the SDK refuses non-streaming requests that may take
#: over 10 minutes (it estimates 128,000 tokens per hour, so about 21,000 is the limit).
MAX_TOKENS = 16_000
#: Retries the SDK makes on 408/409/429/5xx and connection errors (its exponential backoff
#: starts at 0.5 s and stops growing at 8 s; a ``retry-after`` header overrides it).
MAX_RETRIES = 4
#: Seconds between checks of the cancel event while a model request is in flight.
CANCEL_POLL = 0.1
#: Environment variables not passed to bash (the model has no business with the key).
SECRET_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
#: The environment variables the SDK takes credentials from.
CREDENTIAL_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")

CACHE = {"type": "ephemeral"}

_CACHEABLE = ("text", "tool_result", "tool_use", "image", "document")


class Stopped(Exception):
    """The cancel event was set: the conversation takes no more model turns or tool calls."""


def one_line(text: Any, limit: int = 120) -> str:
    """Return ``text`` on one line (whitespace runs become one space), cut to ``limit`` characters with ``...``."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def describe_api_error(err: Exception) -> str:
    """Return ``<ErrorClass> <status>: <message>`` for an SDK error, on one line."""
    status = getattr(err, "status_code", None)
    message = getattr(err, "message", None) or str(err)
    return f"{type(err).__name__}" + (f" {status}" if status else "") + f": {one_line(message, 300)}"


def has_credentials(env: Mapping[str, str] | None = None) -> bool:
    """True if ``ANTHROPIC_API_KEY`` or ``ANTHROPIC_AUTH_TOKEN`` is set (non-empty) in ``env`` (default: os.environ)."""
    env = os.environ if env is None else env
    return any((env.get(k) or "").strip() for k in CREDENTIAL_ENV)


def client_has_credentials(client: Any) -> bool:
    """True if the SDK client found credentials (an API key, an auth token, or other credentials)."""
    return any(getattr(client, k, None) for k in ("api_key", "auth_token", "credentials"))


def bash_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment for the model's bash: os.environ plus ``extra``, without :data:`SECRET_ENV`."""
    env = {**os.environ, **(extra or {})}
    for key in SECRET_ENV:
        env.pop(key, None)
    return env


def cached_tools(definitions: list[dict]) -> list[dict]:
    """Return a copy of tool definitions with ``cache_control`` on the last one (caches the tools prefix)."""
    defs = [dict(t) for t in definitions]
    if defs:
        defs[-1]["cache_control"] = dict(CACHE)
    return defs


def block_to_param(block: Any) -> dict:
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


def append_user(messages: list[dict], blocks: list[dict]) -> None:
    """Append content blocks to the last message if it is the user's, else as a new user message."""
    if messages and messages[-1]["role"] == "user":
        content = messages[-1]["content"]
        if isinstance(content, str):
            messages[-1]["content"] = [{"type": "text", "text": content}, *blocks]
        else:
            content.extend(blocks)
    else:
        messages.append({"role": "user", "content": list(blocks)})


def unanswered_tool_uses(messages: list[dict]) -> list[dict]:
    """Return the tool_use blocks of a last assistant message that have no tool_result yet (else [])."""
    if not messages or messages[-1].get("role") != "assistant" or not isinstance(messages[-1].get("content"), list):
        return []
    return [b for b in messages[-1]["content"] if isinstance(b, dict) and b.get("type") == "tool_use"]


def connect(max_retries: int = MAX_RETRIES, timeout: float | None = None) -> Any:
    """Return an ``anthropic.Anthropic`` client (imports the SDK: the one place gitboard does).

    Args:
        max_retries: retries the SDK makes per request.
        timeout: seconds per request; None lets the SDK pick (10 minutes non-streaming).
    """
    import anthropic  # see the module docstring: only where a model is called

    kwargs: dict[str, Any] = {"max_retries": max_retries}
    if timeout is not None:
        kwargs["timeout"] = timeout
    return anthropic.Anthropic(**kwargs)


def api_error_type() -> type[BaseException]:
    """Return ``anthropic.AnthropicError`` (the base class of every SDK error)."""
    import anthropic

    return anthropic.AnthropicError


def clamp_max_tokens(model: str, max_tokens: int) -> int:
    """Return ``max_tokens`` clamped to :data:`MAX_TOKENS` and to the SDK's non-streaming limit for ``model``."""
    value = min(int(max_tokens), MAX_TOKENS)
    try:
        from anthropic._constants import MODEL_NONSTREAMING_TOKENS  # private; guarded
        limit = MODEL_NONSTREAMING_TOKENS.get(model)
        if limit:
            value = min(value, limit)
    except Exception:
        pass
    return value


@dataclass
class Reply:
    """One model turn: the ``response``, its content as params, its text and its tool_uses."""

    response: Any
    content: list[dict]
    text: str
    tool_uses: list[dict]

    @property
    def stop_reason(self) -> str | None:
        """The response's stop_reason (``end_turn``, ``tool_use``, ``max_tokens`` ...)."""
        return getattr(self.response, "stop_reason", None)


@dataclass
class ToolCall:
    """A tool call as it ran: ``name``, ``input``, ``is_error`` and the result ``text``."""

    name: str
    input: Any
    is_error: bool
    text: str

    def to_json(self) -> dict:
        """Return ``{"name", "input", "is_error"}``."""
        return {"name": self.name, "input": self.input, "is_error": self.is_error}


@dataclass
class Conversation:
    """A Messages API conversation with tools: the state and the steps both model loops share.

    Attributes:
        client: the SDK client (:func:`connect`); None until connected.
        model: the model id of every request.
        system: the system prompt as text blocks; the last carries cache_control.
        tools: tool definitions as sent (:func:`cached_tools`).
        max_tokens: max_tokens of a model turn (clamp it with :func:`clamp_max_tokens`).
        meter: usage, cost and models of every response (compaction summaries included).
        cancel: when set, the next step raises :class:`Stopped`; None: only Ctrl-C interrupts.
        log: where one-line notes go (compaction, tool calls).
        messages: the conversation so far, as message params.
        last_usage: the usage of the last model turn (for the context estimate), or None.
        last_text: the text of the last model turn that had any.
        turns: model turns taken (summary calls not counted).
        on_text: when set, model turns are streamed (``messages.stream``) and each text delta
            is passed to it as it arrives, from the request's thread; None: one
            ``messages.create`` per turn. A cancelled turn's late deltas are dropped.
    """

    model: str
    system: list[dict]
    tools: list[dict]
    client: Any = None
    max_tokens: int = MAX_TOKENS
    meter: Meter = field(default_factory=Meter)
    cancel: threading.Event | None = None
    log: Callable[[str], None] = lambda line: None
    on_text: Callable[[str], None] | None = None
    messages: list[dict] = field(default_factory=list)
    last_usage: Any = None
    last_text: str = ""
    turns: int = 0

    # -- cancellation ----------------------------------------------------------------

    def cancelled(self) -> bool:
        """True if the cancel event is set."""
        return self.cancel is not None and self.cancel.is_set()

    def check_cancel(self) -> None:
        """Raise :class:`Stopped` if the cancel event is set."""
        if self.cancelled():
            raise Stopped()

    def call(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Call ``fn(**kwargs)`` (a model request) on a daemon thread, checked every :data:`CANCEL_POLL` seconds.

        Raises:
            Stopped: the cancel event was set first (the response, when it comes, is dropped).
            KeyboardInterrupt: the calling thread was interrupted (the same).
            Whatever ``fn`` raised, otherwise.
        """
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = fn(**kwargs)
            except BaseException as e:  # handed over to the calling thread
                box["error"] = e

        worker = threading.Thread(target=target, name="model-request", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(CANCEL_POLL)
            if self.cancelled() and worker.is_alive():
                raise Stopped()
        if "error" in box:
            raise box["error"]
        return box["value"]

    # -- model turns -------------------------------------------------------------------

    def request_messages(self) -> list[dict]:
        """The messages to send: a copy whose last content block carries cache_control."""
        msgs = list(self.messages)
        if not msgs:
            return msgs
        last = dict(msgs[-1])
        content = last["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else [dict(b) for b in content]
        if blocks and blocks[-1].get("type") in _CACHEABLE:
            blocks[-1]["cache_control"] = dict(CACHE)
        last["content"] = blocks
        msgs[-1] = last
        return msgs

    def create(self, max_tokens: int | None = None) -> Reply:
        """Take one model turn: messages.create (or messages.stream, with :attr:`on_text`), usage and cost
        metered, the reply appended as the assistant's.

        Args:
            max_tokens: this turn's max_tokens (a budget may lower it); default :attr:`max_tokens`.

        Raises:
            Stopped, KeyboardInterrupt: see :meth:`call` (nothing is appended).
            anthropic.APIError ...: the request failed after the SDK's retries.
        """
        self.check_cancel()
        request = dict(model=self.model, max_tokens=max_tokens or self.max_tokens, system=self.system,
                       tools=self.tools, messages=self.request_messages())
        if self.on_text is None:
            response = self.call(self.client.messages.create, **request)
        else:
            response = self._streamed(self.on_text, request)
        self.meter.add(getattr(response, "model", None) or self.model, response.usage)
        self.last_usage = response.usage
        self.turns += 1
        content = [block_to_param(b) for b in response.content]
        if content:
            self.messages.append({"role": "assistant", "content": content})
        text = "\n".join(b["text"] for b in content if b.get("type") == "text").strip()
        if text:
            self.last_text = text
        return Reply(response, content, text, [b for b in content if b.get("type") == "tool_use"])

    def _streamed(self, sink: Callable[[str], None], request: dict) -> Any:
        """One streamed model turn (``messages.stream``): text deltas to ``sink`` as they arrive;
        return the final message. Cancelled (Stopped, Ctrl-C), the stream is left at the next
        delta and nothing more reaches ``sink``."""
        live = [True]

        def run(**kwargs: Any) -> Any:
            with self.client.messages.stream(**kwargs) as stream:
                for delta in stream.text_stream:
                    if not live[0]:
                        return None
                    sink(delta)
                return stream.get_final_message()

        try:
            return self.call(run, **request)
        finally:
            live[0] = False

    def append_user(self, blocks: list[dict]) -> None:
        """Append content blocks as (or to) the last user message."""
        append_user(self.messages, blocks)

    # -- tools ---------------------------------------------------------------------

    def run_tools(self, tool_uses: list[dict], dispatch: Callable[[str, dict], tuple[str, bool]],
                  *, short: Callable[[str, dict], str] | None = None) -> list[ToolCall]:
        """Run a turn's tool_uses in order and append their tool_results as one user message.

        ``dispatch(name, input) -> (text, is_error)`` runs one call. Errors become tool_results
        with ``is_error: true``, so the model sees them: ToolError (its message), a missing
        input key, a bad value, and any other Exception (a BoardError's message, an OSError).
        Each call is logged as ``<tool>: <short input>``.

        Raises:
            Stopped: the cancel event was set before a call, or ``dispatch`` raised it; the
                calls not made get a tool_result saying so, so the conversation stays valid.
            KeyboardInterrupt: the same, for Ctrl-C.
        """
        calls: list[ToolCall] = []
        results: list[dict] = []
        running = None
        try:
            for block in tool_uses:
                self.check_cancel()  # no tool call after a stop
                running = block.get("id")
                name, args = block.get("name", ""), block.get("input") or {}
                self.log(f"{name}: {(short or short_input)(name, args)}".rstrip())
                try:
                    if not isinstance(args, dict):
                        raise tools.ToolError("tool input must be an object")
                    text, is_error = dispatch(name, args)
                except (Stopped, KeyboardInterrupt):
                    raise
                except tools.ToolError as e:
                    text, is_error = f"Error: {e}", True
                except KeyError as e:
                    text, is_error = f"Error: missing input {e}", True
                except (TypeError, ValueError) as e:
                    text, is_error = f"Error: bad input: {e}", True
                except Exception as e:  # board errors (NotFound, Conflict ...), OS errors
                    text, is_error = f"Error: {getattr(e, 'message', None) or e}", True
                calls.append(ToolCall(name, args, bool(is_error), text))
                result = {"type": "tool_result", "tool_use_id": block.get("id"), "content": text or "(empty)"}
                if is_error:
                    result["is_error"] = True
                results.append(result)
        except (Stopped, KeyboardInterrupt):
            done = {r["tool_use_id"] for r in results}
            for block in tool_uses:
                if block.get("id") not in done:
                    text = ("Cancelled while it ran: it may have taken effect in part." if block.get("id") == running
                            else "Not run: the call was cancelled.")
                    results.append({"type": "tool_result", "tool_use_id": block.get("id"), "is_error": True,
                                    "content": text})
            self.append_user(results)
            raise
        self.append_user(results)
        return calls

    # -- compaction ------------------------------------------------------------------

    def prepare(self, *, threshold: int, keep: int, identity: str, state_dir: str | Path, name: str,
                label: Any) -> None:
        """Before a model turn: micro-compact old tool_results, and compact if the context is over ``threshold`` tokens."""
        compaction.micro_compact(self.messages, keep=keep)
        estimate = compaction.estimate_tokens(self.messages, self.last_usage)
        if estimate > threshold:
            self.compact("automatic", identity=identity, state_dir=state_dir, name=name, label=label,
                         detail=f"estimated {estimate} tokens")

    def compact(self, why: str, *, identity: str, state_dir: str | Path, name: str, label: Any,
                focus: str | None = None, detail: str = "") -> compaction.Compaction:
        """Save the transcript, summarise it with the model, and continue from the summary.

        The summary call is metered like a turn. ``label`` names the transcript
        (``<name>-task-<label>-...jsonl``).

        Raises:
            OSError, anthropic.APIError, Stopped: as :func:`gitboard.llm.compaction.compact`
                (the messages are not touched then).
        """
        result = compaction.compact(self.messages, create=lambda **kw: self.call(self.client.messages.create, **kw),
                                    model=self.model, identity=identity, state_dir=state_dir, name=name,
                                    task_id=label, focus=focus, reason=why)
        self.meter.add(self.model, result.usage)
        self.messages = result.messages
        self.last_usage = None
        self.log(f"compact: {why}{' (' + detail + ')' if detail else ''}; transcript {result.transcript}")
        return result


def short_input(name: str, args: Any) -> str:
    """Return the short form of a tool_use input for the log line ``<tool>: <short input>``."""
    if not isinstance(args, dict):
        return one_line(repr(args))
    if name == "bash":
        return one_line(args.get("command", ""))
    if name in ("read_file", "edit_file"):
        return one_line(args.get("path", ""))
    if name == "write_file":
        return one_line(f"{args.get('path', '')} ({len(str(args.get('content', '')))} chars)")
    if name == "send_message":
        return one_line(f"to {args.get('to')}: {args.get('content', '')}")
    if name == "plan_approval":
        return one_line(args.get("plan", ""))
    return one_line(json.dumps(args, ensure_ascii=False)) if args else ""
