"""A thin wrapper over the ``git`` command for the plumbing gitboard runs directly.

GitPython (:mod:`git`) is used only off the board commands' path (the repository
handle of :attr:`gitboard.store.repo.BoardRepo.repo`, a remote added after opening);
this module runs the plumbing commands whose exit status or raw bytes matter
(``update-ref``, ``ls-tree -z``, ``cat-file --batch``, ``fast-import``).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Mapping, Sequence

from gitboard.board.errors import GitFailure

#: Environment that keeps git from paging, prompting or translating its messages.
_QUIET_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_PAGER": "cat"}


@dataclass(frozen=True)
class Result:
    """Outcome of one git command: exit ``status``, raw ``stdout`` and decoded ``stderr``."""

    status: int
    stdout: bytes
    stderr: str


def run(cwd: str, args: Sequence[str], *, input: bytes | None = None,
        env: Mapping[str, str] | None = None, check: bool = True, new_session: bool = False) -> Result:
    """Run ``git <args>`` in ``cwd``.

    Args:
        cwd: directory to run in (a work tree or a git dir).
        args: arguments after ``git``.
        input: bytes for standard input.
        env: extra environment variables (for example an identity).
        check: raise on a non-zero exit.
        new_session: run git in a session of its own, so that a Ctrl-C at the terminal
            (SIGINT to the foreground process group) cannot stop it half-way (a ref
            transaction that must finish once begun).

    Raises:
        GitFailure: git is missing, or (with ``check``) it exited non-zero; the
            message is git's own last line of stderr.
    """
    full_env = {**os.environ, **_QUIET_ENV, **(env or {})}
    try:
        p = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=full_env,
                           start_new_session=new_session)
    except OSError as e:
        raise GitFailure(f"cannot run git: {e}") from None
    res = Result(p.returncode, p.stdout, p.stderr.decode(errors="replace"))
    if check and p.returncode != 0:
        raise GitFailure(f"git {args[0]} failed: {last_line(res.stderr) or f'exit {p.returncode}'}")
    return res


def last_line(text: str) -> str:
    """Return git's error line from ``text``: the last ``fatal:``/``error:`` line if any, else the
    last non-empty line, stripped (so "Please make sure you have the correct access rights / and the
    repository exists." gives the ``fatal:`` line before it)."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    return errors[-1] if errors else (lines[-1] if lines else "")
