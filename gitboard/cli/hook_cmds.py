"""``gitboard hook install|uninstall`` (server side) and ``gitboard hook-impl`` (what the hook runs)."""

from __future__ import annotations

from typing import List, Optional

import typer

from gitboard.cli.common import JSON_OPT, emit

app = typer.Typer(help="Install gitboard's pre-receive hook into a server repository.", no_args_is_help=True)


@app.command("install")
def install(
    path: str = typer.Argument(..., metavar="PATH", help="The server repository (bare)."),
    lead: Optional[List[str]] = typer.Option(None, "--lead", metavar="NAME",
                                             help="A pusher who may act as lead (repeatable; gitboard.hook.leads)."),
    base: Optional[str] = typer.Option(None, "--base", metavar="BRANCH",
                                       help="The base branch (default: the repository's HEAD branch)."),
    protect_base: bool = typer.Option(False, "--protect-base",
                                      help="The base takes only merge-queue commits from a lead."),
    skew: Optional[float] = typer.Option(None, "--skew", metavar="SECONDS",
                                         help="Seconds a lease is honoured past its end, for a holder whose "
                                              "clock runs behind (default 0; never favours a takeover)."),
    server: bool = typer.Option(True, "--server/--no-server",
                                help="Judge pushes in a warm per-user hook server (Linux; default) "
                                     "or in the hook's own process every time."),
    json_: bool = JSON_OPT,
) -> None:
    """Install the hook (recording this Python) and set receive.fsckObjects and gitboard.hook.*.
    Reinstalling replaces only gitboard's own script."""
    from gitboard.store.hooks import install as do_install

    doc = do_install(path, leads=lead or [], base=base, protect_base=protect_base, skew=skew, server=server)

    def human() -> None:
        from gitboard.cli import render

        leads = ", ".join(doc["leads"]) or "none (no pusher may act as lead)"
        where = "a warm hook server" if doc["server"] else "the hook's own process"
        render.line(f"installed {doc['hook']} (python {doc['python']}; pushes judged in {where}); leads: {leads}")
        if doc["legacy"]:
            render.line(f"the previous hook runs first: {doc['legacy']}")

    emit(json_, doc, human)


@app.command("uninstall")
def uninstall(
    path: str = typer.Argument(..., metavar="PATH", help="The server repository."),
    json_: bool = JSON_OPT,
) -> None:
    """Remove gitboard's hook (only gitboard's own file), putting back a hook it had moved aside."""
    from gitboard.store.hooks import uninstall as do_uninstall

    doc = do_uninstall(path)

    def human() -> None:
        from gitboard.cli import render

        render.line("removed gitboard's pre-receive hook" if doc["removed"] else "no gitboard hook there")

    emit(json_, doc, human)


def hook_impl(
    name: str = typer.Argument(..., metavar="HOOK", help="pre-receive"),
) -> int:
    """Run as a git server hook (the installed script calls this); reads git's input on stdin."""
    from gitboard.board.errors import Invalid
    from gitboard.store.hooks import pre_receive_main

    if name != "pre-receive":
        raise Invalid(f"unknown hook {name!r}: gitboard has a pre-receive hook only")
    return pre_receive_main()
