"""The agents a teammate can run (``--agent NAME``), as a registry of small profiles.

Built-in kinds -- ``anthropic`` (the Messages API tool-use loop), ``shell`` (the
task's ``run`` command), ``exec`` (any command line, ``--agent-cmd``) -- and the
presets for the agent CLIs people use, each a :class:`Profile`: its command line,
how it gets the prompt, how its output is read.

================  =====================================================================
preset            command line (prompt, output reader)
================  =====================================================================
``claude``        ``claude -p --output-format stream-json --verbose --permission-mode
                  acceptEdits`` (prompt on stdin; reader ``claude``; ``--resume
                  <session_id>``; ``--max-budget-usd`` from ``--budget-usd``)
``codex``         ``codex exec --json --sandbox workspace-write --skip-git-repo-check -`` (prompt on
                  stdin; reader ``codex``; ``codex exec resume <thread_id>``)
``aider``         ``aider --message-file FILE --yes-always --no-auto-commits ...``
                  (prompt in a file; reader ``aider``: its ``Tokens:``/``Cost:`` lines)
================  =====================================================================

``git config gitboard.agent.<name>.<key>`` overrides a preset's profile, or adds a
new one (a new name needs ``program``). Keys:

- ``program`` -- the executable, or a command prefix (split like a shell; e.g. the path
  of a ``claude`` that is not on ``PATH``, or ``npx @anthropic-ai/claude-code``);
- ``args`` -- the arguments, replacing the preset's; ``extra-args`` -- added after them;
- ``prompt`` -- ``stdin``, ``file`` (``{prompt_file}`` in the arguments), or ``arg``
  (``{prompt}`` in the arguments);
- ``output`` -- ``claude``, ``codex``, ``aider`` or ``text`` (:mod:`gitboard.agents.output`);
- ``resume`` -- arguments added to continue a session (``{session_id}``); empty: never resume;
- ``budget-args`` -- arguments that pass ``--budget-usd`` to the CLI (``{budget_usd}``);
- ``permission-mode`` -- the value of ``{permission_mode}`` (Claude Code: ``acceptEdits``
  by default; ``default``, ``plan``, ``dontAsk``, ``auto``, ``bypassPermissions``);
- ``model-args`` -- arguments that pass ``--model`` (``{model}``);
- ``mcp`` -- how gitboard's MCP server is wired in (:mod:`gitboard.mcp.config`): ``claude``
  (``--mcp-config``), ``codex`` (``-c mcp_servers.gitboard.*``) or ``none``.

Placeholders in arguments: ``{worktree}``, ``{prompt}``, ``{prompt_file}``, ``{scratch}``
(a private directory for the run's own files), ``{session_id}``, ``{permission_mode}``,
``{model}``, ``{budget_usd}``. Pure: no I/O, no anthropic import.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace
from typing import Mapping

from gitboard.board.errors import Invalid

#: The placeholders :meth:`Profile.argv` fills in.
_PLACEHOLDER = re.compile(r"\{(worktree|prompt|prompt_file|scratch|session_id|permission_mode|model|budget_usd)\}")
#: The built-in agent kinds that are not CLI profiles.
BUILTIN = ("anthropic", "shell", "exec")
#: How a profile gets its prompt.
PROMPT_MODES = ("stdin", "file", "arg")
#: How a profile's output is read (:func:`gitboard.agents.output.reader`).
OUTPUT_READERS = ("claude", "codex", "aider", "text")
#: How a profile wires gitboard's MCP server in (:mod:`gitboard.mcp.config`).
MCP_MODES = ("claude", "codex", "none")
#: Claude Code's permission modes (``claude --help``, version 2.1).
CLAUDE_PERMISSION_MODES = ("acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan")


@dataclass(frozen=True)
class Profile:
    """How to run one agent CLI.

    Attributes:
        name: the ``--agent`` name.
        program: the executable (or command prefix) as argv words.
        args: its arguments (placeholders allowed, see the module docstring).
        prompt: ``stdin``, ``file`` or ``arg``.
        output: the output reader's name.
        resume: arguments added when a session is continued (empty: never).
        budget_args: arguments that pass a USD budget to the CLI (empty: it has no such limit).
        model_args: arguments that pass ``--model`` (empty: the CLI's own default).
        permission_mode: the value of ``{permission_mode}`` (None if the CLI has none).
        extra_args: arguments added after ``args`` (your options; before the model, budget and
            resume arguments, since a subcommand such as ``codex exec resume`` ends the options).
        tail: arguments that end every command line (codex's ``-``: the prompt is on stdin).
        summary: one line for ``--help`` and the README.
        mcp: how gitboard's MCP server is wired in: ``claude``, ``codex`` or ``none``.
    """

    name: str
    program: tuple[str, ...]
    args: tuple[str, ...] = ()
    prompt: str = "stdin"
    output: str = "text"
    resume: tuple[str, ...] = ()
    budget_args: tuple[str, ...] = ()
    model_args: tuple[str, ...] = ()
    permission_mode: str | None = None
    extra_args: tuple[str, ...] = field(default=())
    tail: tuple[str, ...] = ()
    summary: str = ""
    mcp: str = "none"

    def argv(self, values: Mapping[str, str], *, session_id: str | None = None,
             budget_usd: float | None = None, model: str | None = None) -> list[str]:
        """Return the command line for one run.

        Args:
            values: placeholder values (``worktree``, ``prompt``, ``prompt_file``, ``scratch``).
            session_id: continue this session (adds :attr:`resume`), or None.
            budget_usd: the per-task budget in USD (adds :attr:`budget_args`), or None.
            model: the model (adds :attr:`model_args`), or None.

        Only the placeholders of the module docstring are filled in; other braces (a TOML
        table in a ``-c`` option, say) are left as they are.

        Raises:
            Invalid: ``prompt`` is ``file`` or ``arg`` but no argument takes it.
        """
        vals = {"permission_mode": self.permission_mode or "", **values}
        words = list(self.args) + list(self.extra_args)
        if model and self.model_args:
            words += self.model_args
            vals["model"] = model
        if budget_usd is not None and self.budget_args:
            words += self.budget_args
            vals["budget_usd"] = f"{budget_usd:.6f}".rstrip("0").rstrip(".")
        if session_id and self.resume:
            words += self.resume
            vals["session_id"] = session_id
        words += self.tail
        out = list(self.program)
        for w in words:
            out.append(_PLACEHOLDER.sub(lambda m: vals.get(m.group(1), m.group(0)), w))
        if self.prompt == "stdin" or any("{prompt" in w for w in words):
            return out
        raise Invalid(f"agent {self.name}: prompt = {self.prompt} needs {{prompt_file}} or {{prompt}} in its arguments")


#: The presets (see the module docstring). Command lines as documented by each CLI:
#: ``claude --help`` (Claude Code 2.1.197), ``codex exec --help`` (codex-cli 0.171), ``aider --help`` (0.8x).
PRESETS: dict[str, Profile] = {
    "claude": Profile(
        name="claude", program=("claude",),
        args=("-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "{permission_mode}"),
        prompt="stdin", output="claude", resume=("--resume", "{session_id}"),
        budget_args=("--max-budget-usd", "{budget_usd}"), model_args=("--model", "{model}"),
        permission_mode="acceptEdits", summary="Claude Code (claude -p), prompt on stdin, stream-json output",
        mcp="claude"),
    "codex": Profile(
        name="codex", program=("codex",),
        args=("exec", "--json", "--sandbox", "workspace-write", "--skip-git-repo-check", "--cd", "{worktree}"),
        prompt="stdin", output="codex", resume=("resume", "{session_id}"), model_args=("--model", "{model}"),
        tail=("-",), summary="OpenAI Codex CLI (codex exec --json), prompt on stdin", mcp="codex"),
    "aider": Profile(
        name="aider", program=("aider",),
        args=("--message-file", "{prompt_file}", "--yes-always", "--no-auto-commits", "--no-gitignore",
              "--no-check-update", "--no-analytics", "--no-pretty", "--no-stream",
              "--chat-history-file", "{scratch}/aider.chat.history.md",
              "--input-history-file", "{scratch}/aider.input.history"),
        prompt="file", output="aider", model_args=("--model", "{model}"),
        summary="aider (--message-file ... --yes-always), its Tokens/Cost lines read"),
}

_KEYS = ("program", "args", "extra-args", "prompt", "output", "resume", "budget-args", "permission-mode",
         "model-args", "mcp")


def configured_names(config: Mapping[str, str]) -> list[str]:
    """Return the names that ``git config gitboard.agent.<name>.*`` mentions, in order of first mention.

    Args:
        config: git config keys (``gitboard.agent.<name>.<key>``; section and key lower-case,
            the name as written) to values.
    """
    names: list[str] = []
    for key in config:
        if key.startswith("gitboard.agent."):
            name, _, rest = key[len("gitboard.agent."):].rpartition(".")
            if name and rest in _KEYS and name not in names:
                names.append(name)
    return names


def names(config: Mapping[str, str] | None = None) -> list[str]:
    """Return every ``--agent`` name: the built-in kinds, the presets, then profiles added in git config."""
    out = [*BUILTIN, *PRESETS]
    for n in configured_names(config or {}):
        if n not in out:
            out.append(n)
    return out


def _split(name: str, key: str, value: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(value))
    except ValueError as e:
        raise Invalid(f"git config gitboard.agent.{name}.{key}: {e}") from None


def profile(name: str, config: Mapping[str, str] | None = None) -> Profile:
    """Return the profile of CLI agent ``name``: the preset with git config's overrides, or a profile
    that git config defines.

    Raises:
        Invalid: ``name`` is neither a preset nor configured (a new one needs ``program``),
            or a configured value is bad (an unknown ``prompt`` or ``output``, unbalanced quotes,
            a permission mode Claude Code does not know).
    """
    config = config or {}

    def get(key: str) -> str | None:
        return config.get(f"gitboard.agent.{name}.{key}")

    base = PRESETS.get(name)
    if base is None:
        if get("program") is None:
            raise Invalid(f"unknown agent {name!r}: expected one of {', '.join(names(config))} "
                          f"(or define it with git config gitboard.agent.{name}.program CMD)")
        base = Profile(name=name, program=(), summary="defined in git config")
    changes: dict = {}
    for key, attr in (("program", "program"), ("args", "args"), ("extra-args", "extra_args"),
                      ("resume", "resume"), ("budget-args", "budget_args"), ("model-args", "model_args")):
        value = get(key)
        if value is not None:
            changes[attr] = _split(name, key, value)
    for key, allowed in (("prompt", PROMPT_MODES), ("output", OUTPUT_READERS), ("mcp", MCP_MODES)):
        value = get(key)
        if value is not None:
            if value not in allowed:
                raise Invalid(f"git config gitboard.agent.{name}.{key} must be one of {', '.join(allowed)}, "
                              f"not {value!r}")
            changes[key] = value
    mode = get("permission-mode")
    if mode is not None:
        if base.output == "claude" and changes.get("output", "claude") == "claude" and mode not in CLAUDE_PERMISSION_MODES:
            raise Invalid(f"git config gitboard.agent.{name}.permission-mode must be one of "
                          f"{', '.join(CLAUDE_PERMISSION_MODES)} (Claude Code's), not {mode!r}")
        changes["permission_mode"] = mode
    prof = replace(base, **changes)
    if not prof.program:
        raise Invalid(f"git config gitboard.agent.{name}.program is empty")
    return prof
