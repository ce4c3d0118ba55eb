"""A Codex run whose model was chosen on its command line records that model: codex prints
none, so its cost would be unknown and its group ``-``. With the REAL Codex CLI (npm
@openai/codex) against a loopback Responses API, and the argument reader on its own."""

from __future__ import annotations

import pytest

from gitboard.agents.argv_model import model_in_argv
from tests.helpers.fake_responses_api import message, tool_outputs, usage, exec_command
from tests.agents.test_codex_preset import run_codex_task


@pytest.mark.parametrize("argv, model", [
    (["exec", "--json", "-c", 'model="gpt-5-codex"', "-"], "gpt-5-codex"),
    (["exec", "--config", "model='o4-mini'"], "o4-mini"),
    (["exec", "--config=model=gpt-5"], "gpt-5"),
    (["exec", "-m", "gpt-5", "--model", "gpt-5.1", "-"], "gpt-5.1"),    # the last one wins
    (["exec", "--model=gpt-4.1"], "gpt-4.1"),
    (["exec", "-c", 'model_provider="fake"', "-c", "model_reasoning_effort=high"], None),
    (["exec", "-c"], None),
    (["exec", "--json", "-"], None),
])
def test_codex_model_options_are_read_as_codex_reads_them(argv, model) -> None:
    assert model_in_argv("codex", argv) == model


def test_other_agents_short_options_are_not_models() -> None:
    assert model_in_argv("aider", ["-m", "fix the bug", "--model", "gpt-4o"]) == "gpt-4o"
    assert model_in_argv("aider", ["-m", "fix the bug"]) is None
    assert model_in_argv("claude", ["-p", "-c", "model=x"]) is None


def test_a_codex_result_records_the_model_its_extra_args_chose(tmp_path, monkeypatch) -> None:
    def handler(body):
        if tool_outputs(body):
            return [message("Wrote hello.txt.")], usage(150, 12)
        return [exec_command("printf 'hi\\n' > hello.txt")], usage(120, 8)

    # the fake provider's extra-args end with -c 'model="gpt-test"'
    path, task, lines, api = run_codex_task(tmp_path, monkeypatch, handler)
    assert task.status == "completed", "\n".join(lines)
    assert task.result["models"] == ["gpt-test"]
    assert api.requests[0]["model"] == "gpt-test"  # the model codex asked for is the one recorded
