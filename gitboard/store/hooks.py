"""Installing the pre-receive hook into a server repository, and the hook's entry point.

The installed hook is a thin shell script (``gitboard/hook/pre-receive``, also at
``hooks/pre-receive`` in the source tree) that records the Python interpreter it was
installed with, like pre-commit's hook template, and runs ``<python> -m gitboard
hook-impl pre-receive`` (else the ``gitboard`` on PATH); an installed hook starts Python
isolated and, by default, has the warm hook server judge the push (:mod:`gitboard.hook.entry`,
:mod:`gitboard.hook.server`). Its ID line lets install and
uninstall touch only gitboard's own file: a foreign ``pre-receive`` is moved to
``pre-receive.legacy`` (and still run first, with the same input), and uninstall puts it
back. The work is :func:`gitboard.store.receive.check_push`.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Iterable, Sequence

from gitboard.board.errors import BoardError, GitFailure, Invalid
from gitboard.board.names import check_name
from gitboard.board.permits import RUNNERS_KEY
from gitboard.board.text import safe
from gitboard.store.repo import BoardRepo

#: The line that marks gitboard's hook script.
HOOK_ID = "ID: gitboard-pre-receive-7f3c2a91"
HOOK_NAME = "pre-receive"


def runners_of(records: Iterable[tuple[str, str]]) -> set[str]:
    """The actors besides the lead who may set a task's ``run`` command: every value of
    ``gitboard.hook.runners`` (multi-valued; names separated by spaces or commas) in the
    ``(key, value)`` config records (:attr:`BoardRepo.config_records`)."""
    out: set[str] = set()
    for key, value in records:
        if key.lower() == RUNNERS_KEY:
            out.update(n for n in re.split(r"[\s,]+", value.strip()) if n)
    return out


def template() -> str:
    """The hook script's text, as shipped (``GITBOARD_PYTHON=''``)."""
    from importlib import resources  # 13 ms: not on the hook's own path

    return resources.files("gitboard.hook").joinpath(HOOK_NAME).read_text()


def package_root() -> str:
    """The directory holding this ``gitboard`` package (the source tree for an editable install,
    else ``site-packages``)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def render(python: str, root: str | None = None, *, server: bool = True) -> str:
    """The hook script recording interpreter ``python`` and ``root``, the directory holding the
    ``gitboard`` package it runs (default: this package's when ``python`` is this interpreter;
    else none, and the hook runs ``python -m gitboard``). With ``server`` (the default), pushes
    are judged by the warm hook server (:mod:`gitboard.hook.server`); without, by the hook's
    own process, every time."""
    if root is None and os.path.abspath(python) == os.path.abspath(sys.executable):
        root = package_root()
    import shlex

    text = template().replace("GITBOARD_PYTHON=''", f"GITBOARD_PYTHON={shlex.quote(python)}", 1)
    if not server:
        text = text.replace("\nGITBOARD_SERVER=1\n", "\nGITBOARD_SERVER=0\n", 1)
    return text.replace("GITBOARD_PATH=''", f"GITBOARD_PATH={shlex.quote(root)}", 1) if root else text


def is_ours(path: Path) -> bool:
    """True if ``path`` is a hook script written by gitboard (it carries :data:`HOOK_ID`)."""
    try:
        return HOOK_ID in path.read_text(errors="replace")
    except OSError:
        return False


def hooks_dir(repo: BoardRepo) -> Path:
    """The repository's hooks directory.

    Raises:
        Invalid: ``core.hooksPath`` is set (install by hand there; see docs/guides/server-hook.md).
    """
    custom = repo.git("config", "core.hooksPath", check=False).stdout.decode().strip()
    if custom:
        raise Invalid(f"core.hooksPath is set to {custom!r}; copy hooks/pre-receive there by hand "
                      f"(or unset it) -- nothing was changed")
    return Path(repo.common_dir, "hooks")


def install(path: str, *, leads: Sequence[str] = (), base: str | None = None, protect_base: bool = False,
            skew: float | None = None, python: str | None = None, server: bool = True) -> dict:
    """Install the pre-receive hook into the repository at ``path`` and set what it relies on.

    Sets ``receive.fsckObjects`` to true (git checks every pushed object as ``git fsck`` would,
    before the hook runs) and ``gitboard.hook.leads`` to exactly ``leads`` (when any are given), plus
    ``gitboard.hook.base``, ``gitboard.hook.protectBase`` and ``gitboard.hook.skew``
    when given. Reinstalling replaces gitboard's own script; a foreign hook is moved to
    ``pre-receive.legacy`` once.

    It sets neither ``receive.denyNonFastForwards`` nor ``receive.denyDeletes``: they hold for
    every ref of the repository and would override the server's own per-branch permissions
    (gitolite's ``RW+`` on a teammate's task branch). The hook itself refuses a deletion or a
    rewind of the board and base branches (:mod:`gitboard.store.receive`).

    Args:
        path: the server repository (bare, usually).
        leads: pushers who may act as ``lead``.
        python: the interpreter to record (default: this one, ``sys.executable``).
        server: judge pushes in the warm hook server (:mod:`gitboard.hook.server`; Linux);
            False: in the hook's own process, every time.

    Returns:
        ``{"hook": path of the script, "python", "legacy": path or None, "leads": [...], "server": bool}``.

    Raises:
        GitFailure: ``path`` is not a git repository.
        Invalid: a bad lead name or skew, or ``core.hooksPath`` is set.
    """
    for name in leads:
        check_name(name, "lead")
    if skew is not None and not skew >= 0:
        raise Invalid(f"--skew must be zero or more seconds, not {skew!r}")
    with BoardRepo(path) as repo:
        directory = hooks_dir(repo)
        directory.mkdir(parents=True, exist_ok=True)
        hook = directory / HOOK_NAME
        legacy = directory / f"{HOOK_NAME}.legacy"
        if hook.exists() and not is_ours(hook):
            if legacy.exists():
                raise Invalid(f"{hook} is not gitboard's and {legacy} exists already; move one of them away")
            os.replace(hook, legacy)
        tmp = directory / f".{HOOK_NAME}.gitboard-tmp"
        tmp.write_text(render(python or sys.executable, server=server))
        tmp.chmod(0o755)
        os.replace(tmp, hook)
        repo.git("config", "receive.fsckObjects", "true")
        if leads:
            repo.git("config", "--unset-all", "gitboard.hook.leads", check=False)
            for name in leads:
                repo.git("config", "--add", "gitboard.hook.leads", name)
        if base:
            repo.git("config", "gitboard.hook.base", base)
        if protect_base:
            repo.git("config", "gitboard.hook.protectBase", "true")
        if skew is not None:
            repo.git("config", "gitboard.hook.skew", f"{skew:g}")
        configured = repo.git("config", "--get-all", "gitboard.hook.leads", check=False).stdout.decode().split()
    return {"hook": str(hook), "python": python or sys.executable,
            "legacy": str(legacy) if legacy.exists() else None, "leads": configured, "server": server}


def uninstall(path: str) -> dict:
    """Remove gitboard's pre-receive hook from the repository at ``path`` (only if it is gitboard's),
    and put back a ``pre-receive.legacy`` it had moved aside. Config is left as it is.

    Returns:
        ``{"removed": bool, "restored": path or None}``.

    Raises:
        GitFailure: ``path`` is not a git repository.
        Invalid: ``core.hooksPath`` is set.
    """
    with BoardRepo(path) as repo:
        directory = hooks_dir(repo)
    hook, legacy = directory / HOOK_NAME, directory / f"{HOOK_NAME}.legacy"
    removed = hook.exists() and is_ours(hook)
    restored = None
    if removed:
        hook.unlink()
        if legacy.exists():
            os.replace(legacy, hook)
            restored = str(hook)
    return {"removed": removed, "restored": restored}


def pre_receive_main(stdin: bytes | None = None, cwd: str = ".") -> int:
    """Run as git's pre-receive hook: read the ref updates, judge them, print refusals; return the exit status.

    Prints one ``gitboard: refused <commit>: <reason>`` line per problem on stderr and
    returns 1 if there is any (git then rejects the whole push). A hook that cannot do its
    job (gitboard's own failure) also refuses, with one ``gitboard: error: ...`` line.
    """
    from gitboard.store.receive import check_push, parse_updates, run_legacy

    data = sys.stdin.buffer.read() if stdin is None else stdin
    try:
        with BoardRepo(cwd) as repo:
            status = run_legacy(str(Path(repo.common_dir, "hooks")), HOOK_NAME, data, os.environ)
            if status != 0:
                sys.stderr.write(f"gitboard: refused: the {HOOK_NAME}.legacy hook declined the push (exit {status})\n")
                return 1
            refused = check_push(repo, parse_updates(data.decode(errors="replace")), os.environ)
    except BoardError as e:
        sys.stderr.write(f"gitboard: error: {safe(e.message)} (push refused)\n")
        return 1
    except Exception as e:  # a bug: refuse, in one line
        if os.environ.get("GITBOARD_DEBUG"):
            raise
        sys.stderr.write(f"gitboard: error: internal error: {type(e).__name__}: {safe(e)} (push refused)\n")
        return 1
    for line in refused:
        sys.stderr.write(f"gitboard: {safe(line)}\n")
    return 1 if refused else 0


__all__ = ["install", "uninstall", "pre_receive_main", "is_ours", "render", "template", "HOOK_ID", "GitFailure"]
