"""The workspace tools the model gets (``bash``, ``read_file``, ``write_file``, ``edit_file``): definitions and dispatch.

Shared by the anthropic teammate agent (its root is the task's worktree) and the lead (its
root is the lead's repository). The file tools are confined to the root
(:func:`gitboard.llm.tools.confine`); ``bash`` is not confined (see
docs/concepts/identity.md) and runs without the API keys in its environment
(:func:`gitboard.llm.conversation.bash_env`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from gitboard.llm import tools
from gitboard.llm.conversation import Stopped

_S = {"type": "string"}
_I = {"type": "integer"}


def obj(properties: dict | None = None, required: list[str] | None = None) -> dict:
    """Return a JSON Schema ``{"type": "object", "properties": ..., "required": ...}`` for a tool's input."""
    schema: dict = {"type": "object", "properties": properties or {}}
    if required:
        schema["required"] = required
    return schema


def definitions(where: str = "your worktree") -> list[dict]:
    """Return the four workspace tool definitions (input schemas of bash, read_file, write_file, edit_file); ``where`` names the root."""
    return [
        {"name": "bash", "description": f"Run a shell command in {where} (timeout, output capped).",
         "input_schema": obj({"command": _S}, ["command"])},
        {"name": "read_file", "description": f"Read a text file; path relative to {where}; limit = max lines.",
         "input_schema": obj({"path": _S, "limit": _I}, ["path"])},
        {"name": "write_file", "description": f"Write content to a file (path relative to {where}), creating directories.",
         "input_schema": obj({"path": _S, "content": _S}, ["path", "content"])},
        {"name": "edit_file", "description": "Replace the first occurrence of old_text with new_text in a file.",
         "input_schema": obj({"path": _S, "old_text": _S, "new_text": _S}, ["path", "old_text", "new_text"])},
    ]


#: The workspace tools' names.
NAMES = ("bash", "read_file", "write_file", "edit_file")


@dataclass
class Workspace:
    """Runs workspace tool calls under ``root``.

    Attributes:
        root: the directory the file tools are confined to and bash runs in.
        env: the complete environment for bash (keys already removed).
        bash_timeout: seconds before a bash command is killed.
        cancel: when set while bash runs, its process group is killed and :class:`Stopped` is raised.
    """

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    bash_timeout: float = tools.BASH_TIMEOUT
    cancel: threading.Event | None = None

    def run(self, name: str, a: dict) -> tuple[str, bool]:
        """Run one workspace tool call; return ``(text, is_error)``.

        Raises:
            ToolError: as the tool raises (see :mod:`gitboard.llm.tools`); KeyError for a missing input.
            Stopped: the cancel event was set while bash ran.
        """
        if name == "bash":
            r = tools.run_bash(self.root, a["command"], timeout=self.bash_timeout, env=self.env, cancel=self.cancel)
            if r.cancelled:
                raise Stopped()
            return r.to_text(), r.timed_out
        if name == "read_file":
            return tools.read_file(self.root, a["path"], a.get("limit")), False
        if name == "write_file":
            return tools.write_file(self.root, a["path"], a["content"]), False
        if name == "edit_file":
            return tools.edit_file(self.root, a["path"], a["old_text"], a["new_text"]), False
        raise tools.ToolError(f"unknown tool {name!r}")
