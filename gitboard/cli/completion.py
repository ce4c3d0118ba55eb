"""Shell completion (typer's ``--install-completion`` / ``--show-completion``) with gitboard's errors.

typer detects the shell it runs in and supports bash, zsh, fish and PowerShell. For
any other shell (``sh``, ``dash``, ``tcsh`` ...) or none it prints ``Shell sh is not
supported.`` on stdout and exits 1. :func:`install` wraps the two functions typer's
completion options call so that this case is an :class:`~gitboard.board.errors.Invalid`
instead: one ``gitboard: error: ...`` line on stderr, exit 2, nothing written.

Like :mod:`gitboard.cli.coercion`, this hooks typer internals (``typer.completion.install``
and ``typer.completion.get_completion_script``, looked up when an option runs) and leaves
typer alone if they are not there.
"""

from __future__ import annotations

from typing import Any

from gitboard.board.errors import Invalid

#: The shells typer has completion scripts for.
SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")
_MARK = "_gitboard_completion"


def _check(shell: str | None) -> None:
    if shell not in SHELLS:
        found = f"the shell {shell!r}" if shell else "no shell it knows"
        raise Invalid(f"cannot set up completion: found {found}; gitboard completes {', '.join(SHELLS[:3])} "
                      f"and PowerShell (run this from one of them)")


def install() -> bool:
    """Hook typer's completion options (once); return whether they are hooked."""
    try:
        from typer import completion
    except ImportError:
        return False
    original_install = getattr(completion, "install", None)
    original_script = getattr(completion, "get_completion_script", None)
    detect = getattr(completion, "_get_shell_name", None)
    if original_install is None or original_script is None or detect is None:
        return False
    if getattr(original_install, _MARK, False):
        return True

    def install_(shell: str | None = None, *args: Any, **kwargs: Any) -> Any:
        _check(shell if shell is not None else detect())
        return original_install(shell, *args, **kwargs)

    def get_completion_script(*, shell: str, **kwargs: Any) -> str:
        _check(shell or None)
        return original_script(shell=shell, **kwargs)

    for fn in (install_, get_completion_script):
        setattr(fn, _MARK, True)
    completion.install = install_
    completion.get_completion_script = get_completion_script
    return True
