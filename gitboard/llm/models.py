"""Which model the anthropic agent uses, without importing the anthropic SDK.

The board path (``gitboard spawn``, ``gitboard work``, the CLI) needs the default
model id and the resolution order but must not pay for ``import anthropic``
(over a second), so they live here, apart from :mod:`gitboard.agents.anthropic`.

Resolution order of ``--model``: the explicit ``--model`` value, else
``git config gitboard.model``, else ``$GITBOARD_MODEL``, else :data:`DEFAULT_MODEL`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Mapping

#: The model id used when neither ``--model``, ``git config gitboard.model`` nor
#: ``$GITBOARD_MODEL`` names one. Named in docs/guides/anthropic-agent.md.
DEFAULT_MODEL = "claude-sonnet-5-5"

#: Environment variable that names the model when git config does not.
MODEL_ENV = "GITBOARD_MODEL"


def git_config_model(cwd: str | Path | None = None) -> str | None:
    """Return ``git config --get gitboard.model`` run in ``cwd``, or None if unset or git fails.

    Never raises: a missing git, a directory that is not a repository, or an unset key
    all give None.
    """
    try:
        proc = subprocess.run(["git", "config", "--get", "gitboard.model"], cwd=cwd,
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    value = proc.stdout.strip()
    return value if proc.returncode == 0 and value else None


def resolve_model(explicit: str | None = None, cwd: str | Path | None = None,
                  env: Mapping[str, str] | None = None) -> str:
    """Return the model id to use: ``explicit``, git config, ``$GITBOARD_MODEL``, or :data:`DEFAULT_MODEL`.

    Args:
        explicit: the ``--model`` value, if any (empty counts as unset).
        cwd: directory to run ``git config`` in (the project or a worktree of it).
        env: environment to read ``GITBOARD_MODEL`` from; defaults to ``os.environ``.
    """
    if explicit:
        return explicit
    configured = git_config_model(cwd)
    if configured:
        return configured
    value = (os.environ if env is None else env).get(MODEL_ENV, "").strip()
    return value or DEFAULT_MODEL
