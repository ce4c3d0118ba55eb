"""The ``gitboard`` application and its entry point, :func:`main`.

:func:`main` turns every failure into one line on stderr, ``gitboard: error:
...``, and the exit codes of :mod:`gitboard.board.errors`; usage errors exit 2.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Optional, Sequence

import typer

from gitboard import __version__
from gitboard.board.errors import BoardError, Invalid
from gitboard.cli import board_cmds, task_cmds
from gitboard.cli import inbox_cmds, protocol_cmds, team_cmds
from gitboard.cli import team_runtime_cmds
from gitboard.cli import hook_cmds, verify_cmds
from gitboard.cli import cost_cmds
from gitboard.cli import review_cmds, queue_cmds
from gitboard.cli import watch_cmds
from gitboard.cli import lead_cmds
from gitboard.cli import serve_cmds
from gitboard.cli import mcp_cmds
from gitboard.cli.common import GLOBALS, fail, silence_stdout
from gitboard.cli.coercion import install as _convert_plain_values_without_pydantic
from gitboard.cli.help_flags import install as _flags_without_type_in_help
from gitboard.cli.completion import install as _completion_errors_as_one_line
from gitboard.cli.help_text import OrderedGroup, install as _help_reflowed_and_grouped

_convert_plain_values_without_pydantic()  # about 100 ms off every command; see gitboard.cli.coercion
_flags_without_type_in_help()  # --json, not --json <bool>; see gitboard.cli.help_flags
_completion_errors_as_one_line()  # an unsupported shell is one error line; see gitboard.cli.completion

app = typer.Typer(
    name="gitboard",
    help="A git-backed task board and team runtime for AI coding agents and the people who lead them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    cls=OrderedGroup,  # commands in a reading order; see gitboard.cli.help_text
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"gitboard {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    repo_dir: str = typer.Option(".", "-C", metavar="DIR", help="Run as if started in DIR (like git -C)."),
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    GLOBALS.repo_dir = repo_dir


app.command("init")(board_cmds.init)
app.add_typer(task_cmds.app, name="task")
app.command("log")(board_cmds.log)
app.command("sync")(board_cmds.sync)
app.add_typer(team_cmds.app, name="team")
app.command("send")(inbox_cmds.send)
app.command("broadcast")(inbox_cmds.broadcast)
app.command("inbox")(inbox_cmds.inbox)
app.command("stop")(protocol_cmds.stop)
app.add_typer(protocol_cmds.plan_app, name="plan")
app.command("spawn")(team_runtime_cmds.spawn)
app.command("work")(team_runtime_cmds.work)
app.command("logs")(team_runtime_cmds.logs)
app.command("demo")(team_runtime_cmds.demo)
app.command("verify")(verify_cmds.verify)
app.add_typer(hook_cmds.app, name="hook")
app.command("hook-impl", hidden=True)(hook_cmds.hook_impl)
app.command("cost")(cost_cmds.cost)
app.command("review")(review_cmds.review)
app.command("approve")(review_cmds.approve)
app.command("reject")(review_cmds.reject)
app.command("merge")(queue_cmds.merge)
app.command("watch")(watch_cmds.watch)
app.command("lead")(lead_cmds.lead)
app.command("serve")(serve_cmds.serve)
app.command("notify")(serve_cmds.notify)
app.command("mcp")(mcp_cmds.mcp)
_help_reflowed_and_grouped(app)  # help texts reflowed, commands in panels; see gitboard.cli.help_text


#: errno values of a failed write to stdout (a closed pipe, a full disk, a broken terminal).
_OUTPUT_ERRNOS = frozenset({errno.EPIPE, errno.ENOSPC, errno.EDQUOT, errno.EIO})


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and exit with its status."""
    args = list(sys.argv[1:] if argv is None else argv)
    json_mode = "--json" in args
    try:
        rv = app(args=args, standalone_mode=False, prog_name="gitboard")
        code = rv if isinstance(rv, int) else 0
    except BoardError as e:
        code = fail(e, json_mode)
    except typer.TyperException as e:  # usage errors from the parser
        # a missing command prints the help (to stdout) and has no message of its own
        message = e.format_message().strip() or "missing command (see the help above)"
        code = fail(Invalid(message), json_mode) if getattr(e, "exit_code", 1) == 2 else \
            fail(BoardError(message), json_mode)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("gitboard: error: interrupted\n")
        code = 130
    except typer.Exit as e:
        code = e.exit_code
    except OSError as e:
        if isinstance(e, BrokenPipeError) or (e.filename is None and e.errno in _OUTPUT_ERRNOS):
            silence_stdout()  # writing the output failed: a closed pipe, a full disk
            code = fail(BoardError(f"cannot write the output: {e.strerror or e}"), False)
        else:  # a file or directory of the work went wrong: say which
            where = f"{e.filename}: " if e.filename else ""
            code = fail(BoardError(f"{where}{e.strerror or e}"), json_mode)
    except Exception as e:  # a bug: still one line, never a traceback (GITBOARD_DEBUG=1 shows it)
        if os.environ.get("GITBOARD_DEBUG"):
            raise
        code = fail(BoardError(f"internal error: {type(e).__name__}: {e} (set GITBOARD_DEBUG=1 for a traceback)"),
                    json_mode)
    try:
        sys.stdout.flush()
    except OSError as e:
        silence_stdout()
        code = fail(BoardError(f"cannot write the output: {e.strerror or e}"), False)
    sys.exit(code)
