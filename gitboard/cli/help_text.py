"""How ``gitboard --help`` and ``gitboard COMMAND --help`` read.

- **Reflowed text.** typer (0.2x) keeps the single line breaks of a docstring's later
  paragraphs, so a help text wrapped at 100 columns in the source prints with breaks in
  the middle of sentences on a narrower screen. :func:`reflow` joins the lines of each
  paragraph; :func:`install` gives every command its docstring reflowed as its help. A
  paragraph that starts with ``\\b`` (click's mark for "do not rewrap") is kept as is.
- **Commands in groups, in a reading order.** :data:`PANELS` names the groups of
  ``gitboard --help`` (typer's ``rich_help_panel``) and the order of the commands in them;
  :class:`OrderedGroup` lists the commands in that order (click sorts them by name, typer by
  kind: commands, then groups).
"""

from __future__ import annotations

import inspect
from typing import Any

import typer
from typer.core import TyperGroup

#: The groups of ``gitboard --help``, in order, each with its commands in order. Every
#: command of ``gitboard`` appears in exactly one group (a test checks it).
PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Start", ("demo", "init", "sync")),
    ("Tasks", ("task", "log")),
    ("Team", ("team", "spawn", "work", "logs", "stop", "send", "broadcast", "inbox", "plan", "lead")),
    ("Review and merge", ("review", "approve", "reject", "merge")),
    ("Watch and cost", ("watch", "serve", "notify", "cost")),
    ("Servers and CI", ("mcp", "verify", "hook")),
)

PANEL_OF = {name: panel for panel, names in PANELS for name in names}
ORDER = {name: i for i, name in enumerate(name for _, names in PANELS for name in names)}


def reflow(text: str | None) -> str | None:
    """``text`` dedented (as :func:`inspect.cleandoc`) with the lines of each paragraph joined
    by single spaces; paragraphs stay separated by a blank line. A paragraph starting with
    ``\\b`` keeps its line breaks; anything after a ``\\f`` line (click's end of help) goes."""
    if text is None:
        return None
    text = inspect.cleandoc(text).partition("\f")[0]
    out = []
    for para in text.split("\n\n"):
        if para.startswith("\b"):
            out.append(para)
        else:
            out.append(" ".join(line.strip() for line in para.splitlines() if line.strip()))
    return "\n\n".join(p for p in out if p)


class OrderedGroup(TyperGroup):
    """A typer group that lists its commands in :data:`ORDER` (unknown names last, by name)."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: (ORDER.get(n, len(ORDER)), n))


def install(app: typer.Typer, *, top: bool = True) -> None:
    """Give every command registered on ``app`` (and on its sub-apps) its docstring reflowed
    as its help (unless it has a help of its own), and, at the top, its panel from :data:`PANELS`."""
    for info in app.registered_commands:
        if info.help is None and info.callback is not None:
            info.help = reflow(inspect.getdoc(info.callback))
        if top and info.name in PANEL_OF and not info.hidden:
            info.rich_help_panel = PANEL_OF[info.name]
    for group in app.registered_groups:
        if top and group.name in PANEL_OF:
            group.rich_help_panel = PANEL_OF[group.name]
        if group.typer_instance is not None:
            install(group.typer_instance, top=False)
