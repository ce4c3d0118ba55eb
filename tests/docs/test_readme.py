"""The README is a front door: short, with its two set-up commands, its pictures and working links."""

from __future__ import annotations

import re
import tomllib

from tests.docs.helpers import ROOT

README = ROOT / "README.md"


def _text() -> str:
    return README.read_text(encoding="utf-8")


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def test_short() -> None:
    assert len(_text().splitlines()) <= 300


def test_names_the_package_its_pyproject_declares() -> None:
    name = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
    assert f"`{name}`" in _text()
    assert re.search(rf"pip install {re.escape(name)}(?![\w.-])", _text())


def test_the_two_set_up_commands() -> None:
    blocks = _code_blocks(_text())
    first, second = blocks[0].strip(), blocks[1].strip()
    assert first.startswith("git clone ") and "python3 -m venv .venv" in first and first.endswith(
        "pip install -e . && gitboard demo")
    assert second == "pip install -e '.[test]' && pytest"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert second in ci.splitlines(), ".ci/run must run the README's test command exactly"


def test_pictures_and_relative_links_exist() -> None:
    text = _text()
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    assert "docs/images/watch.svg" in targets and "docs/images/web-board.png" in targets
    local = [t for t in targets if not re.match(r"[a-z]+:", t)]
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"the README links to missing files: {missing}"


def test_no_history() -> None:
    text = _text()
    assert not re.search(r"\bissue \d+|\bthis round\b|\bthe seed\b|\bwas \d[\d.,]* ?(ms|KB|x)\b", text, re.I)
