"""Finding a real agent CLI installed with npm for its tests, or skipping them saying why.

``.ci/run`` installs each package into ``.ci-node/`` of the clone (gitignored) and exports
an environment variable with the binary's path (``TEST_CLAUDE_CODE_BIN``, ``TEST_CODEX_BIN``:
not ``GITBOARD_*``, which tests/conftest.py clears); developers point it at their own install.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def npm_binary(env_var: str, bin_name: str, package: str, label: str) -> str:
    """Return the path of ``bin_name`` from ``$env_var``, else from ``.ci-node/node_modules/.bin``;
    else skip the test, naming ``label`` and how to install ``package``."""
    path = os.environ.get(env_var, "")
    if path:
        if os.access(path, os.X_OK):
            return path
        pytest.skip(f"{env_var}={path} is not an executable file")
    local = Path(__file__).resolve().parents[2] / ".ci-node" / "node_modules" / ".bin" / bin_name
    if os.access(local, os.X_OK):
        return str(local)
    why = "node and npm are not installed" if not shutil.which("npm") else \
        f"{label} is not installed (npm install {package}, then set {env_var} to its bin/{bin_name})"
    pytest.skip(f"real {label} CLI tests skipped: {why}")
