"""The REAL Codex CLI as a teammate, with gitboard's MCP server wired in through ``-c
mcp_servers.gitboard.*``: it is offered gitboard's tools and calls one (driven by the loopback
Responses API); and ``codex mcp add`` configures the server for interactive use. Skipped, saying
why, where Codex is not installed (see tests/helpers/npm_binaries.py)."""

from __future__ import annotations

import json
import subprocess

from gitboard.client import BoardClient
from gitboard.mcp.catalog import TEAMMATE_TOOLS
from tests.helpers.fake_responses_api import FakeResponsesAPI, message, tool_outputs, usage
from tests.helpers.runtime_helpers import add_tasks, board, git, make_project, teammate
from tests.helpers.npm_binaries import npm_binary


def codex_binary() -> str:
    """The Codex CLI binary (``TEST_CODEX_BIN``, else ``.ci-node``), or skip saying why."""
    return npm_binary("TEST_CODEX_BIN", "codex", "@openai/codex", "Codex")


def function_call(name: str, arguments: dict, call_id: str) -> dict:
    """A Responses API function_call output item; ``namespace.tool`` calls a tool of a namespace
    (codex offers an MCP server's tools as the namespace ``mcp__<server>``)."""
    space, _, tool = name.rpartition(".")
    item = {"type": "function_call", "id": f"fc_{call_id}", "call_id": call_id, "name": tool,
            "arguments": json.dumps(arguments)}
    if space:
        item["namespace"] = space
    return item


def tool_names(body: dict) -> list[str]:
    """The names of the tools (functions, and namespaced MCP tools) a request offers."""
    out = []
    for t in body.get("tools") or []:
        out.append(t.get("name") or "")
        for sub in t.get("tools") or []:
            out.append(f"{t.get('name')}.{sub.get('name')}")
    return out


def test_codex_is_offered_gitboards_tools_and_messages_the_lead(tmp_path, monkeypatch):
    from gitboard.store.repo import BoardRepo
    from gitboard.agents import registry as agents

    binary = codex_binary()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    seen: list[list[str]] = []
    outputs: list[dict] = []

    def handler(body):
        names = tool_names(body)
        seen.append(names)
        send = next((n for n in names if n.endswith("send_message")), None)
        sent = [i for i in body.get("input") or [] if i.get("type") == "function_call_output"
                and i.get("call_id") == "call_send"]
        if sent:
            outputs.extend(sent)
            return [message("Sent.")], usage(60, 3)
        if send is None:  # codex 0.171 may start the turn before a server's tools are listed: look around first
            return [function_call("exec_command", {"cmd": "sleep 1; ls"}, f"call_wait_{len(seen)}")], usage(10, 2)
        return [function_call(send, {"to": "lead", "content": "hello from codex"}, "call_send")], usage(50, 5)

    with FakeResponsesAPI(handler) as api:
        path = make_project(tmp_path)
        git(path, "config", "gitboard.agent.codex.program", binary)
        git(path, "config", "gitboard.agent.codex.extra-args", api.provider_args())
        add_tasks(path, [{"subject": "Say hello to the lead"}])
        with BoardRepo(path) as r:
            agent = agents.make("codex", config=r.config)
        t, lines = teammate(path, "alice", agent=agent, idle_timeout=0.5)
        assert t.run() == 0
    offered = [n for names in seen for n in names if n.startswith("mcp__gitboard.")]
    assert {f"mcp__gitboard.{n}" for n in TEAMMATE_TOOLS} <= set(offered), "\n".join(lines)
    assert len(seen) <= 12, "\n".join(lines)  # the tools came within a few requests
    assert [(m.from_, m.content) for m in BoardClient(path).peek()] == [("alice", "hello from codex")], \
        (outputs, "\n".join(lines))
    assert '"from":"alice"' in json.dumps(outputs).replace(" ", "").replace('\\"', '"')
    assert board(path).tasks[1].status == "completed"
    actor = git(path, "log", "-1", "--format=%(trailers:key=Gitboard-Actor,valueonly)", "--grep=send message",
                "gitboard").strip()
    assert actor == "alice"


def test_interactive_use_codex_mcp_add_configures_the_server(tmp_path, repo, gitboard_exe):
    """``codex mcp add gitboard -- gitboard mcp --as alice`` writes the server into Codex's
    config.toml, and ``codex mcp list``/``get`` show it as Codex will start it."""
    binary = codex_binary()
    home = tmp_path / "codex-home"
    home.mkdir()

    def codex(*args: str) -> subprocess.CompletedProcess:
        import os

        return subprocess.run([binary, *args], cwd=repo, env={**os.environ, "CODEX_HOME": str(home)},
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    added = codex("mcp", "add", "gitboard", "--", str(gitboard_exe), "mcp", "--as", "alice")
    assert added.returncode == 0, added.stderr
    config = (home / "config.toml").read_text()
    assert "[mcp_servers.gitboard]" in config and '"--as", "alice"' in config
    got = json.loads(codex("mcp", "get", "gitboard", "--json").stdout)
    assert got["enabled"] and got["transport"]["command"] == str(gitboard_exe)
    assert got["transport"]["args"] == ["mcp", "--as", "alice"]
    assert "gitboard" in codex("mcp", "list").stdout


def test_the_runtimes_overrides_read_back_exactly_in_codex(tmp_path):
    """The ``-c`` overrides the runtime gives Codex (TOML values, :func:`gitboard.mcp.config.codex_args`)
    parse to exactly the command, arguments and environment meant, odd characters included."""
    import os

    from gitboard.mcp.config import codex_args

    binary = codex_binary()
    home = tmp_path / "codex-home"
    home.mkdir()
    odd = str(tmp_path / 'work "tree" \\ dir é')
    argv = ["/usr/bin/python3", "-m", "gitboard", "-C", odd, "mcp", "--as", "alice"]
    env = {"HOME": str(tmp_path), "GITBOARD_TASK_SUBJECT": 'say "hi" \\ then\ttab', "XDG_STATE_HOME": odd}
    proc = subprocess.run([binary, *codex_args(argv, env), "mcp", "get", "gitboard", "--json"],
                          env={**os.environ, "CODEX_HOME": str(home)}, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["transport"]["command"] == argv[0] and got["transport"]["args"] == argv[1:]
    assert got["transport"]["env"] == env
    assert got["tool_timeout_sec"] >= 3600 and got["startup_timeout_sec"] >= 60
