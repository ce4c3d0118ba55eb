"""Every environment variable and git config key the code uses is in docs/reference/configuration.md,
and every error kind with its exit code is in docs/reference/exit-codes.md."""

from __future__ import annotations

import re

from gitboard.board import errors
from tests.docs.helpers import DOCS, ROOT

CONFIG_PAGE = DOCS / "reference" / "configuration.md"
EXIT_PAGE = DOCS / "reference" / "exit-codes.md"

#: strings that look like ``gitboard.<word>`` but are no config key
NOT_KEYS = {"gitboard.invalid"}  # the e-mail domain of the fallback identity (gitboard/store/repo.py)


def _code() -> list[tuple[str, str]]:
    """(path, text) of every file of the package and of the hook script."""
    files = sorted((ROOT / "gitboard").rglob("*.py")) + sorted((ROOT / "gitboard" / "hook").iterdir()) \
        + sorted((ROOT / "hooks").iterdir())
    return [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in files if p.is_file()]


def environment_variables() -> set[str]:
    """Every ``GITBOARD_*`` name in the code."""
    return {m for _, text in _code() for m in re.findall(r"(?<![A-Za-z0-9_])_?GITBOARD_[A-Z0-9_]*[A-Z0-9]", text)}


def _module_path(first: str, rest: str) -> bool:
    """True if ``gitboard.<first><rest>`` names a module of the package (or a name in one), not a git
    config key that shares its first word with a package (``gitboard.hook.leads`` beside gitboard/hook/)."""
    path = ROOT / "gitboard" / first
    part = rest.strip(".").split(".")[0]
    return not path.is_dir() or not part or (path / f"{part}.py").exists() or (path / part).is_dir()


def config_keys() -> set[str]:
    """Every ``gitboard.<key>`` in a string of the code that is not a module path: ``gitboard.branch``,
    ``gitboard.hook.leads``, and the fixed part of keys made at run time (``gitboard.agent.``)."""
    packages = {p.stem for p in (ROOT / "gitboard").iterdir()}
    found = set()
    for _, text in _code():
        for m in re.finditer(r"""["'\s(`]gitboard\.([A-Za-z][A-Za-z0-9_]*)((?:\.[A-Za-z][A-Za-z0-9_-]*)*)(\.?)""", text):
            first, rest, dot = m.groups()
            if first in packages and _module_path(first, rest):
                continue
            key = f"gitboard.{first}{rest}{dot}"
            if key not in NOT_KEYS:
                found.add(key)
    return found


def test_the_scan_finds_what_it_should() -> None:
    env = environment_variables()
    keys = {k.lower() for k in config_keys()}
    assert {"GITBOARD_ACTOR", "GITBOARD_DEADLINE", "GITBOARD_PUSHER", "GITBOARD_PYTHON"} <= env
    assert {"gitboard.branch", "gitboard.remote", "gitboard.hook.leads", "gitboard.budget.usd"} <= keys
    assert not any(k.startswith(("gitboard.store", "gitboard.board.", "gitboard.cli")) for k in keys)


def test_every_environment_variable_is_in_the_table() -> None:
    page = CONFIG_PAGE.read_text(encoding="utf-8")
    missing = sorted(v for v in environment_variables() if f"`{v}`" not in page)
    assert not missing, f"add these to docs/reference/configuration.md: {missing}"


def _covered(key: str, row: str) -> bool:
    """True if the table's ``row`` (e.g. ``gitboard.agent.<name>.<key>``) names ``key``, or ``key`` is
    the fixed start of it (``gitboard.agent.``, written where the code builds the key at run time)."""
    kparts, rparts = key.lower().rstrip(".").split("."), row.lower().split(".")
    return len(kparts) <= len(rparts) and all(r.startswith("<") or k == r for k, r in zip(kparts, rparts))


def test_every_git_config_key_is_in_the_table() -> None:
    page = CONFIG_PAGE.read_text(encoding="utf-8")
    rows = [line.split("|")[1].strip().strip("`") for line in page.splitlines() if line.startswith("| `gitboard.")]
    assert "gitboard.agent.<name>.<key>" in rows
    missing = sorted(k for k in config_keys() if not any(_covered(k, row) for row in rows))
    assert not missing, f"add these to docs/reference/configuration.md: {missing}"
    assert not _covered("gitboard.notify.url", "gitboard.hook.leads")
    assert not _covered("gitboard.hook.newkey", "gitboard.hook.actors.<pusher>")


def test_every_error_kind_and_exit_code_is_in_the_table() -> None:
    page = EXIT_PAGE.read_text(encoding="utf-8")
    kinds = {}
    stack = [errors.BoardError]
    while stack:
        cls = stack.pop()
        kinds[cls.kind] = cls.exit_code
        stack.extend(cls.__subclasses__())
    assert {"invalid", "conflict", "not_found", "refused"} <= set(kinds)
    missing = [f"{k} ({c})" for k, c in sorted(kinds.items()) if f"| `{k}` | {c} |" not in page]
    assert not missing, f"add these to the kinds in docs/reference/exit-codes.md: {missing}"
    for code in sorted(set(kinds.values())):
        assert re.search(rf"^\| {code} \|", page, re.M), f"exit code {code} has no row"
