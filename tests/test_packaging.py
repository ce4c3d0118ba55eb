"""What a newcomer reads and installs agrees with the project: the distribution name the
README, the hook and the CI example give is the one pyproject declares (the command stays
``gitboard``), the licence the metadata names is in the tree, and the README's statements
about the board hold."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]


def test_every_pip_install_names_the_declared_distribution() -> None:
    name = _name()
    assert name != "gitboard"  # that name on the package index is another project
    texts = {p: p.read_text() for p in [ROOT / "README.md", ROOT / "CONTRIBUTING.md",
                                        ROOT / "gitboard" / "hook" / "pre-receive",
                                        *(ROOT / "docs").rglob("*.md")] if p.exists()}
    named = []
    for path, text in texts.items():
        for m in re.finditer(r"pip install ([A-Za-z0-9_.\-\[\]'+:/@]+)", text):
            arg = m.group(1).strip("'")
            if arg.lower().startswith("gitboard"):  # not -e ., a git URL, another package
                named.append((path.name, arg))
    assert named and all(arg == name or arg.startswith(name + "[") for _, arg in named), named
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"gitboard": "gitboard.cli.main:main"}


def test_the_readme_sets_up_in_a_virtual_environment() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "git clone" in readme and "python3 -m venv" in readme


def test_license_changelog_and_contributing_are_there() -> None:
    assert "MIT License" in (ROOT / "LICENSE").read_text() and "gitboard contributors" in (ROOT / "LICENSE").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]  # an SPDX expression
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "Keep a Changelog" in changelog and "## [Unreleased]" in changelog and "## [0.1.0]" in changelog
    assert "pytest" in (ROOT / "CONTRIBUTING.md").read_text()


def test_the_docs_do_not_call_blocked_by_unerasable(run_cli, repo) -> None:
    # task update --unblock removes a blocker: neither the README nor the docs may say blockedBy
    # is never erased, and the board format's page names the way to remove one
    assert run_cli(["task", "add", "a"], cwd=repo).exit_code == 0
    assert run_cli(["task", "add", "b", "--blocked-by", "1"], cwd=repo).exit_code == 0
    assert run_cli(["task", "update", "2", "--unblock", "1", "--json"], cwd=repo).json()["blockedBy"] == []
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for page in pages:
        assert "never erased" not in " ".join(page.read_text().split()), page
    assert "--unblock" in (ROOT / "docs" / "concepts" / "board-format.md").read_text()
