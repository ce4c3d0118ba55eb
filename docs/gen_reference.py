"""Write ``docs/reference/commands.md``, the command reference, from the command line itself.

The page is generated from the typer application (:data:`gitboard.cli.main.app`), walked as
the click command tree typer builds, so it names every command, argument and option with the
help text ``gitboard COMMAND --help`` prints and cannot drift from it.
``tests/docs/test_reference.py`` fails when the committed page differs from what this script
writes; after changing a command, run::

    python docs/gen_reference.py            # rewrites docs/reference/commands.md
    python docs/gen_reference.py --check    # exit 1 if the page is out of date

The output depends only on the code: no terminal width, environment or machine enters it.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path

import typer

# typer builds a click command tree (typer vendors click as typer._click); these are its
# Command, Group, Context and Parameter objects, used by duck typing only.
Command = Group = Context = Parameter = object

PAGE = Path(__file__).resolve().parent / "reference" / "commands.md"

HEADER = """\
# Commands

Every command of `gitboard`, generated from the command line itself by `docs/gen_reference.py`
(the same text as `gitboard COMMAND --help`). Every command takes `--json` and then prints exactly
one JSON document on stdout (`watch --json` without `--once`: one per new board tip); the shapes
are in [JSON output](json.md), the exit codes in [Exit codes](exit-codes.md).

"""


def _panel(command: Command) -> str | None:
    """The ``rich_help_panel`` a command is listed under in ``--help``, or None."""
    panel = getattr(command, "rich_help_panel", None)
    return panel if isinstance(panel, str) and panel else None


def _md(text: str) -> str:
    """Help text as Markdown text: rich's ``\\[`` escapes undone, Markdown's specials escaped."""
    text = text.replace("\\[", "[")
    text = text.replace("\\", "\\\\")
    for ch in "*_<>|[]`":
        text = text.replace(ch, "\\" + ch)
    return text


def _help_paragraphs(help_text: str | None) -> list[str]:
    """The help text's paragraphs, each joined onto one line (click rewraps them the same way)."""
    if not help_text:
        return []
    text = inspect.cleandoc(help_text).split("\f", 1)[0]
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.splitlines() if line.strip() not in ("", "\b")]
        if lines:
            paragraphs.append(" ".join(lines))
    return paragraphs


def _cell(text: str) -> str:
    return _md(" ".join(text.split())) if text else ""


def _default(param: Parameter) -> str:
    """The default worth showing: not None, not False, not empty, not computed at run time."""
    default = param.default
    if callable(default) or default in (None, False, "", (), []) or type(default).__name__ == "DefaultPlaceholder":
        return ""
    if isinstance(default, bool):
        return "on"
    return f"`{default}`"


def _param_rows(command: Command, ctx: Context) -> list[str]:
    rows = []
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "argument":
            name = f"`{param.metavar or param.name.upper()}`"
            value = "argument" + ("" if param.required else ", optional")
        else:
            names = sorted(param.opts, key=len) + list(param.secondary_opts)
            name = ", ".join(f"`{n}`" for n in names)
            if getattr(param, "is_flag", False):
                value = "flag"
            else:
                value = f"`{param.metavar or param.name.upper()}`"
                if getattr(param, "multiple", False):
                    value += ", repeatable"
            if param.required:
                value += ", required"
        rows.append(f"| {name} | {value} | {_default(param)} | {_cell(getattr(param, 'help', None) or '')} |")
    return rows


def _usage(command: Command, ctx: Context) -> str:
    pieces = command.collect_usage_pieces(ctx)
    return " ".join([ctx.command_path, *pieces])


def _command_section(command: Command, ctx: Context, level: int) -> list[str]:
    out = [f"{'#' * level} {ctx.command_path}", ""]
    out += ["```text", _usage(command, ctx), "```", ""]
    for paragraph in _help_paragraphs(command.help):
        out += [_md(paragraph), ""]
    rows = _param_rows(command, ctx)
    if rows:
        out += ["| argument or option | value | default | meaning |", "|---|---|---|---|", *rows, ""]
    return out


def _visible(group: Group, ctx: Context) -> list[tuple[str, Command]]:
    found = []
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            found.append((name, sub))
    return found


def _walk(command: Command, ctx: Context, level: int) -> list[str]:
    out = _command_section(command, ctx, level)
    if hasattr(command, "list_commands"):
        for name, sub in _visible(command, ctx):
            out += _walk(sub, sub.context_class(sub, info_name=name, parent=ctx), level + 1)
    return out


def command_names(app: typer.Typer | None = None) -> list[str]:
    """Every visible command path, e.g. ``["gitboard init", "gitboard task", "gitboard task add", ...]``."""
    root = typer.main.get_command(app or _app())
    names: list[str] = []

    def walk(command: Command, ctx: Context) -> None:
        if hasattr(command, "list_commands"):
            for name, sub in _visible(command, ctx):
                sub_ctx = sub.context_class(sub, info_name=name, parent=ctx)
                names.append(sub_ctx.command_path)
                walk(sub, sub_ctx)

    walk(root, root.context_class(root, info_name="gitboard"))
    return names


def _app() -> typer.Typer:
    from gitboard.cli.main import app

    return app


def render(app: typer.Typer | None = None) -> str:
    """The whole page as Markdown text (``str``, ending in one newline)."""
    root = typer.main.get_command(app or _app())
    ctx = root.context_class(root, info_name="gitboard")
    out = [HEADER.rstrip("\n"), ""]
    out += ["## gitboard", "", "```text", _usage(root, ctx), "```", ""]
    for paragraph in _help_paragraphs(root.help):
        out += [_md(paragraph), ""]
    rows = _param_rows(root, ctx)
    if rows:
        out += ["| option | value | default | meaning |", "|---|---|---|---|", *rows, ""]
    # commands grouped as `gitboard --help` groups them (rich_help_panel), in the app's order
    panels: dict[str, list[tuple[str, Command]]] = {}
    for name, sub in _visible(root, ctx):
        panels.setdefault(_panel(sub) or "Commands", []).append((name, sub))
    out += ["Commands:", ""]
    for panel, commands in panels.items():
        links = ", ".join(f"[{name}](#{_anchor('gitboard ' + name)})" for name, _ in commands)
        out += [f"- **{_md(panel)}**: {links}"]
    out += [""]
    for panel, commands in panels.items():
        if len(panels) > 1:
            out += [f"## {_md(panel)}", ""]
        for name, sub in commands:
            out += _walk(sub, sub.context_class(sub, info_name=name, parent=ctx), 3 if len(panels) > 1 else 2)
    return "\n".join(out).rstrip("\n") + "\n"


def _anchor(title: str) -> str:
    """The id Python-Markdown's toc extension gives a heading of this text."""
    slug = re.sub(r"[^\w\s-]", "", title).strip().lower()
    return re.sub(r"[-\s]+", "-", slug)


def main(argv: list[str] | None = None) -> int:
    """Write the page, or with ``--check`` compare it; returns the exit status (1: out of date)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed page differs")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != text:
            sys.stderr.write(f"{PAGE} is out of date: run python docs/gen_reference.py\n")
            return 1
        return 0
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
