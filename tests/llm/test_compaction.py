"""Context compaction: micro-compaction, the token estimate, and summarising compaction (auto and the
compact tool) keeping the identity block first and saving the transcript."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitboard.llm import compaction
from gitboard.agents.anthropic import AnthropicAgent
from tests.helpers.fake_messages_api import FakeMessagesAPI, Recorded, reply, text, tool_use
from tests.helpers.fake_port import FakePort, make_ctx, make_task


def _conversation(n: int, size: int = 300) -> list[dict]:
    msgs: list[dict] = [{"role": "user", "content": "start"}]
    for i in range(n):
        msgs.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"t{i}", "name": f"tool{i}",
                                                       "input": {}}]})
        msgs.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}",
                                                  "content": f"{i}:" + "x" * size}]})
    return msgs


def _results(msgs: list[dict]) -> list[str]:
    return [b["content"] for m in msgs if isinstance(m["content"], list) for b in m["content"]
            if b.get("type") == "tool_result"]


def test_micro_compact_clears_all_but_the_last_results() -> None:
    msgs = _conversation(6)
    assert compaction.micro_compact(msgs, keep=3) == 3
    results = _results(msgs)
    assert results[:3] == [f"[earlier tool{i} result cleared to save context]" for i in range(3)]
    assert [r[:2] for r in results[3:]] == ["3:", "4:", "5:"]
    assert compaction.micro_compact(msgs, keep=3) == 0  # idempotent


def test_micro_compact_keeps_short_results_and_the_unseen_last_message() -> None:
    msgs = _conversation(2, size=10)
    assert compaction.micro_compact(msgs, keep=0) == 0  # short results stay
    msgs = _conversation(1)
    msgs[-1]["content"] += [{"type": "tool_result", "tool_use_id": "x", "content": "y" * 500}] * 4
    assert compaction.micro_compact(msgs, keep=1) == 0  # the model has not seen these yet


def test_estimate_tokens_uses_the_larger_of_usage_and_chars() -> None:
    msgs = [{"role": "user", "content": "x" * 4000}]
    assert 1000 <= compaction.estimate_tokens(msgs) < 1100
    usage = {"input_tokens": 10, "cache_read_input_tokens": 50_000, "cache_creation_input_tokens": 5, "output_tokens": 7}
    assert compaction.estimate_tokens(msgs, usage) == 50_022


def test_save_transcript_writes_jsonl(tmp_path: Path) -> None:
    msgs = _conversation(2)
    path = compaction.save_transcript(msgs, tmp_path, "alice", 3)
    assert path.parent == tmp_path / "transcripts" and path.name.startswith("alice-task-3-")
    assert [json.loads(line) for line in path.read_text().splitlines()] == msgs


# -- through the agent, with the real SDK and the fake API --------------------------------

def _summary_request(req: Recorded) -> bool:
    return "tools" not in req.body and req.body.get("system") == compaction.SUMMARY_SYSTEM


def _assert_identity_first(req: Recorded) -> None:
    first = req.messages[0]
    assert first["role"] == "user"
    identity = first["content"][0]["text"]
    assert identity.startswith("<identity>\nYou are 'alice', a teammate on team 'test', role: dev.")
    assert "task #7" in identity and "Port the parser" in identity
    assert len(req.messages) == 1  # everything else went into the summary


@pytest.mark.usefixtures("anthropic_env")
def test_automatic_compaction_past_the_threshold(fake_api: FakeMessagesAPI, git_repo: Path, tmp_path: Path) -> None:
    port = FakePort()
    fake_api.script(
        reply(tool_use("bash", {"command": "echo step one"}), usage={"input_tokens": 40, "cache_read_input_tokens": 5000}),
        reply(text("SUMMARY: ran step one; next, step two."), usage={"input_tokens": 300, "output_tokens": 20}),
        reply(text("Finished after compaction.")),
    )
    ctx = make_ctx(git_repo, tmp_path / "state", port, task=make_task(7, "Port the parser"))
    out = AnthropicAgent(max_retries=0, compact_threshold=2000).run(ctx)
    assert out.ok and out.summary == "Finished after compaction."
    first, summary_req, after = fake_api.message_requests
    assert _summary_request(summary_req) and not _summary_request(first)
    assert "echo step one" in summary_req.all_text()
    _assert_identity_first(after)
    assert "SUMMARY: ran step one" in after.all_text() and "<summary_data>" in after.all_text()
    assert after.body["tools"][-1]["cache_control"] == {"type": "ephemeral"}  # same cached prefix
    # the full transcript was saved before compacting
    [transcript] = (tmp_path / "state" / "transcripts").iterdir()
    lines = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert lines[1]["content"][0] == {"type": "tool_use", "id": lines[1]["content"][0]["id"], "name": "bash",
                                      "input": {"command": "echo step one"}}
    assert "step one" in lines[2]["content"][0]["content"]
    assert str(transcript) in after.all_text()
    # the summary call's usage counts too
    assert out.usage.input_tokens == 40 + 300 + 10 and out.usage.output_tokens == 5 + 20 + 5
    assert any(line.startswith("compact: automatic") for line in port.logs)


@pytest.mark.usefixtures("anthropic_env")
def test_compact_tool_compacts_and_keeps_identity(fake_api: FakeMessagesAPI, git_repo: Path, tmp_path: Path) -> None:
    port = FakePort()

    def summarise(req: Recorded) -> dict:
        assert _summary_request(req) and "<focus_data>\nthe parser's API\n</focus_data>" in req.all_text()
        return reply(text("SUMMARY-42"))

    fake_api.script(
        reply(tool_use("write_file", {"path": "p.py", "content": "def parse(): ...\n"})),
        reply(text("Context is long; compacting."), tool_use("compact", {"focus": "the parser's API"})),
        summarise,
        reply(tool_use("read_file", {"path": "p.py"})),
        reply(text("Done."), tool_use("idle")),
    )
    ctx = make_ctx(git_repo, tmp_path / "state", port, task=make_task(7, "Port the parser"))
    out = AnthropicAgent(max_retries=0).run(ctx)
    assert out.ok and out.summary == "Done."
    reqs = fake_api.message_requests
    assert len(reqs) == 5
    _assert_identity_first(reqs[3])
    assert "SUMMARY-42" in reqs[3].all_text() and "requested with the compact tool" in reqs[3].all_text()
    # later turns still start with the identity block
    assert reqs[4].messages[0]["content"][0]["text"].startswith("<identity>")
    assert reqs[4].tool_results[0]["content"] == "def parse(): ..."
    assert len(list((tmp_path / "state" / "transcripts").iterdir())) == 1
    assert port.logs[1] == 'compact: {"focus": "the parser\'s API"}'
