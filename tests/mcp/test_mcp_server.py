"""``gitboard mcp`` driven by the MCP SDK's own stdio client against real boards, local and
through a bare remote: every tool, its errors, and the refusal of the lead's tools."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from gitboard.client import BoardClient
from gitboard.mcp.catalog import LEAD_TOOLS, TEAMMATE_TOOLS
from tests.helpers.board_helpers import board
from tests.conftest import _git, board_tip
from tests.helpers.merge_helpers import completed_task, init_board, project, remote_project
from tests.mcp.mcp_session import session


def actor_of(path: Path, rev: str = "gitboard") -> str:
    """The Gitboard-Actor trailer of ``rev``'s commit."""
    return _git(path, "log", "-1", "--format=%(trailers:key=Gitboard-Actor,valueonly)", rev).strip()


def answer_plans(client: BoardClient, verdicts: list[tuple[bool, str]], seen: list[dict]) -> threading.Thread:
    """Answer the next plans submitted, in order, as ``client`` (the lead), on a thread."""

    def run() -> None:
        for approve, feedback in verdicts:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                pending = client.pending_plans()
                if pending:
                    seen.append(pending[0].to_json())
                    client.respond_plan(pending[0].request_id, approve, feedback)
                    break
                time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture(params=["local", "remote"])
def boards(request, repo: Path, clone) -> tuple[Path, Path]:
    """``(where alice's server runs, where the lead works)``: one repository (local mode), or two
    clones of a bare remote (remote mode: the server fetches and pushes)."""
    if request.param == "local":
        return repo, repo
    lead, alice = clone("lead"), clone("alice")
    return alice, lead


def shared_tip(path: Path) -> str:
    """The board's tip where every clone sees it: the remote's in remote mode, else the local ref."""
    if _git(path, "config", "--get", "gitboard.remote", check=False):
        return _git(path, "ls-remote", "origin", "refs/heads/gitboard").split()[0]
    return board_tip(path)


def test_a_teammate_uses_every_teammate_tool_and_each_commit_names_it(boards: tuple[Path, Path]) -> None:
    repo, lead_repo = boards
    lead = BoardClient(lead_repo)
    lead.add_task("First", "the first one")
    lead.add_task("Second", blocked_by=[1])
    lead.add_task("Third")
    BoardClient(lead_repo, "bob").set_member(status="idle")
    BoardClient(lead_repo, "alice").set_member(status="idle")
    with session(repo, "--as", "alice") as s:
        assert s.tool_names() == list(TEAMMATE_TOOLS)
        # list: pages and filters, from the listing index
        page = s.ok("list_tasks", limit=2)
        assert [t["id"] for t in page["tasks"]] == [1, 2] and page["total"] == 3 and page["truncated"]
        assert [t["id"] for t in s.ok("list_tasks", offset=2)["tasks"]] == [3]
        assert [t["id"] for t in s.ok("list_tasks", ready=True)["tasks"]] == [1, 3]
        assert s.ok("list_tasks", status="pending")["total"] == 3
        shown = s.call("show_task", task_id=1)
        assert shown.structured_content["description"] == "the first one" and "the first one" in shown.content[0].text
        assert s.ok("show_task", task_id=2)["blockedBy"] == [1]
        # claim the next ready task, renew, done with a note
        claimed = s.ok("claim_task")
        assert claimed["id"] == 1 and claimed["owner"] == "alice" and claimed["lease_expires_at"]
        assert actor_of(repo) == "alice"
        renewed = s.ok("renew_task", task_id=1, lease=3000)
        assert renewed["lease_expires_at"] > claimed["lease_expires_at"] and actor_of(repo) == "alice"
        done = s.ok("done_task", task_id=1, note="did it")
        assert done["status"] == "completed" and done["result"] == {"note": "did it"} and actor_of(repo) == "alice"
        assert s.ok("list_tasks", ready=True)["tasks"][0]["id"] == 2  # its blocker is done
        # claim by id, fail with a note
        assert s.ok("claim_task", task_id=3)["owner"] == "alice"
        failed = s.ok("fail_task", task_id=3, note="no way")
        assert failed["status"] == "failed" and failed["result"] == {"note": "no way"}
        assert actor_of(repo) == "alice"
        # messages
        sent = s.ok("send_message", to="lead", content="hello lead")
        assert sent["from"] == "alice" and actor_of(repo) == "alice"
        assert [(m.from_, m.content) for m in lead.peek()] == [("alice", "hello lead")]
        cast = s.ok("broadcast", content="hi all")
        assert sorted(m["to"] for m in cast["messages"]) == ["bob", "lead"] and actor_of(repo) == "alice"
        BoardClient(lead_repo, "bob").send("alice", "ping")
        assert [m["content"] for m in s.ok("read_inbox", peek=True)["messages"]] == ["ping"]
        assert [m["content"] for m in s.ok("read_inbox")["messages"]] == ["ping"]
        assert actor_of(repo) == "alice"
        assert s.ok("read_inbox")["messages"] == []
        # an acknowledged read: peek, then remove exactly what was read
        for text in ("one", "two"):
            BoardClient(lead_repo, "bob").send("alice", text)
        seen = s.ok("read_inbox", peek=True)["messages"]
        BoardClient(lead_repo, "bob").send("alice", "three")  # arrives after the peek
        ids = [m["id"] for m in seen]
        assert [m["content"] for m in s.ok("ack_messages", ids=ids)["messages"]] == ["one", "two"]
        assert actor_of(repo) == "alice"
        assert s.ok("ack_messages", ids=ids)["messages"] == []  # a repeat changes nothing
        assert s.error("ack_messages", ids=["no such id!"]).startswith("gitboard: error: invalid message id")
        assert [m["content"] for m in s.ok("read_inbox")["messages"]] == ["three"]
        # the shutdown handshake
        req = lead.request_shutdown("alice", "wrap up")
        inbox = s.ok("read_inbox")["messages"]
        assert inbox[0]["type"] == "shutdown_request" and inbox[0]["request_id"] == req.request_id
        answered = s.ok("answer_shutdown", request_id=req.request_id, approve=False, reason="mid-task")
        assert answered["status"] == "rejected" and answered["reason"] == "mid-task" and actor_of(repo) == "alice"
        # the roster
        roster = s.ok("roster")
        assert {m["name"] for m in roster["members"]} >= {"alice", "bob"}
        # plan approval: approved, then rejected with feedback that reaches the caller, then no answer
        seen: list[dict] = []
        answer_plans(lead, [(True, "")], seen).join(0)
        approved = s.ok("submit_plan", plan="1. read\n2. write", timeout=60)
        assert approved["status"] == "approved" and seen[0]["plan"] == "1. read\n2. write"
        assert seen[0]["from"] == "alice"
        answer_plans(lead, [(False, "split step 2")], seen).join(0)
        res = s.call("submit_plan", plan="1. do it all", timeout=60)
        assert not res.is_error and res.structured_content["status"] == "rejected"
        assert res.structured_content["feedback"] == "split step 2" and "split step 2" in res.content[0].text
        pending = s.ok("submit_plan", plan="3. later", timeout=0)
        assert pending["status"] == "pending" and lead.pending_plans()[0].request_id == pending["request_id"]
    # every commit the session made names alice
    log = _git(repo, "log", "--format=%s|%(trailers:key=Gitboard-Actor,valueonly,separator=)", "gitboard")
    mine = [ln for ln in log.splitlines() if ln.endswith("|alice")]
    assert len(mine) >= 12


def test_errors_are_tool_errors_with_gitboards_line_and_change_nothing(boards: tuple[Path, Path]) -> None:
    repo, lead_repo = boards
    lead = BoardClient(lead_repo)
    lead.add_task("Taken")
    lead.add_task("Free")
    BoardClient(lead_repo, "bob").claim(1)
    with session(repo, "--as", "alice") as s:
        tip = shared_tip(lead_repo)
        assert s.error("show_task", task_id=99) == "gitboard: error: no task #99"
        assert "bob" in s.error("claim_task", task_id=1)
        assert "gitboard: error:" in s.error("done_task", task_id=1, note="not mine")
        assert "nobody" in s.error("send_message", to="nobody", content="hi")
        assert "status" in s.error("list_tasks", status="bogus")
        assert "empty" in s.error("submit_plan", plan="   ")
        assert s.error("answer_shutdown", request_id="feedface", approve=True)
        assert s.error("renew_task", task_id=2)
        # the lead's tools: not listed, and refused when called
        assert not set(s.tool_names()) & set(LEAD_TOOLS)
        calls = {"add_task": {"subject": "x"}, "import_tasks": {"tasks": [{"subject": "x"}]},
                 "update_task": {"task_id": 2, "subject": "y"}, "review_task": {"task_id": 1},
                 "approve_task": {"task_id": 1}, "reject_task": {"task_id": 1, "feedback": "no"},
                 "merge": {}, "stop_teammate": {"name": "bob"},
                 "answer_plan": {"request_id": "abc", "approve": True}, "pending_plans": {}}
        assert set(calls) == set(LEAD_TOOLS)
        for name, args in calls.items():
            assert s.error(name, **args) == (f"gitboard: error: {name} is the lead's tool; this server acts as "
                                             f"alice (the lead runs 'gitboard mcp --as lead')")
        # arguments the schema refuses are tool errors too
        assert s.call("show_task", task_id=0).is_error
        assert s.call("claim_task", task_id="two").is_error
        assert shared_tip(lead_repo) == tip
    assert board(repo).tasks[2].subject == "Free" and board(repo).tasks[1].owner == "bob"


@pytest.mark.parametrize("mode", ["local", "remote"])
def test_the_leads_tools(tmp_path: Path, run_cli, mode: str) -> None:
    if mode == "local":
        path = project(tmp_path / "p")
        init_board(path)
        base = path
    else:
        base, path = remote_project(tmp_path)
    remote = mode == "remote"
    to_reject = completed_task(run_cli, path, "Reject me", {"r.txt": "r\n"}, push=remote)
    to_merge = completed_task(run_cli, path, "Merge me", {"m.txt": "m\n"}, push=remote)
    BoardClient(path, "bob").set_member(status="idle")
    alice = BoardClient(path, "alice")
    with session(path, "--as", "lead") as s:
        assert s.tool_names() == list(TEAMMATE_TOOLS) + list(LEAD_TOOLS)
        added = s.ok("add_task", subject="New", description="d", role="dev")
        assert added["role"] == "dev" and actor_of(path) == "lead"
        first = added["id"] + 1
        imported = s.ok("import_tasks", tasks=[{"subject": "A"}, {"subject": "B", "blockedBy": [first]}])
        a, b = imported["tasks"]
        assert b["blockedBy"] == [a["id"]] and b["status"] == "pending"
        updated = s.ok("update_task", task_id=added["id"], subject="Newer", blocked_by=[a["id"]])
        assert updated["subject"] == "Newer" and updated["blockedBy"] == [a["id"]]
        review = s.call("review_task", task_id=to_merge)
        assert not review.is_error
        doc = review.structured_content
        assert [f["path"] for f in doc["files"]] == ["m.txt"] and "+m" in doc["patch"] and doc["mergeable"]
        assert "m.txt" in review.content[0].text
        rejected = s.ok("reject_task", task_id=to_reject, feedback="rename r.txt")
        assert rejected["status"] == "pending" and rejected["rework"][-1]["feedback"] == "rename r.txt"
        review = s.ok("approve_task", task_id=to_merge, note="good")["review"]
        assert (review["verdict"], review["by"], review["note"]) == ("approved", "lead", "good")
        merged = s.ok("merge")
        assert merged["merged"] == [to_merge]
        assert _git(base, "show", "main:m.txt") == "m"  # the remote's main, in remote mode
        asked = s.ok("stop_teammate", name="bob", reason="done for today")
        assert asked["to"] == "bob" and asked["status"] == "pending"
        assert "ghost" in s.error("stop_teammate", name="ghost")
        req = alice.request_plan("1. refactor")
        plans = s.ok("pending_plans")["plans"]
        assert [p["request_id"] for p in plans] == [req.request_id] and plans[0]["plan"] == "1. refactor"
        tip = board_tip(path)
        assert "feedback" in s.error("answer_plan", request_id=req.request_id, approve=False)
        assert board_tip(path) == tip
        answered = s.ok("answer_plan", request_id=req.request_id[:8], approve=False, feedback="smaller steps")
        assert answered["status"] == "rejected" and answered["feedback"] == "smaller steps"
        assert [m.type for m in alice.peek()][-1] == "plan_approval_response"
        assert "answered" in s.error("answer_plan", request_id=req.request_id, approve=True)
        assert actor_of(path) == "lead"
        # the lead's refusals change nothing either
        tip = shared_tip(path)
        assert "subject" in s.error("add_task", subject="  ")
        assert "99" in s.error("add_task", subject="x", blocked_by=[99])
        assert "line 1" in s.error("import_tasks", tasks=[{"subject": "x", "id": 5}])
        assert s.error("update_task", task_id=a["id"], blocked_by=[b["id"]])  # a cycle
        assert s.error("approve_task", task_id=a["id"])  # not completed
        assert "feedback" in s.error("reject_task", task_id=to_merge, feedback=" ")
        assert s.error("review_task", task_id=a["id"])  # no branch
        assert s.error("merge", task_ids=[a["id"]])  # not approved
        assert shared_tip(path) == tip


def test_through_a_bare_remote_reads_fetch_and_writes_push(clone) -> None:
    lead_clone = clone("lead")
    alice_clone = clone("alice")
    lead = BoardClient(lead_clone)
    BoardClient(lead_clone, "alice").set_member(status="idle")
    with session(alice_clone, "--as", "alice") as s:
        lead.add_task("Made in the lead's clone")  # pushed; alice's clone has not fetched it
        listed = s.ok("list_tasks")
        assert [t["subject"] for t in listed["tasks"]] == ["Made in the lead's clone"]
        s.ok("claim_task")
        # the remote's board has the claim, by alice
        remote_board = board(lead_clone)
        assert remote_board.tasks[1].owner == "alice"
        assert actor_of(lead_clone, "refs/remotes/origin/gitboard") == "alice"
        s.ok("send_message", to="lead", content="on it")
        assert [m.content for m in lead.peek()] == ["on it"]
        # a refusal pushes nothing
        lead.add_task("Second")
        BoardClient(lead_clone, "bob").claim(2)
        before = _git(lead_clone, "ls-remote", "origin", "refs/heads/gitboard")
        assert "bob" in s.error("claim_task", task_id=2)
        assert _git(lead_clone, "ls-remote", "origin", "refs/heads/gitboard") == before
        # a plan answered from the other clone
        seen: list[dict] = []
        answer_plans(lead, [(True, "fine")], seen)
        res = s.ok("submit_plan", plan="the plan", timeout=60)
        assert res["status"] == "approved" and res["feedback"] == "fine"
    with session(lead_clone, "--as", "lead") as s:
        s.ok("add_task", subject="Through the lead's server")
        assert board(alice_clone).tasks[3].subject == "Through the lead's server"


def test_a_runtime_wired_server_keeps_its_tasks_end_for_the_harness(repo: Path, tmp_path: Path) -> None:
    lead = BoardClient(repo)
    lead.add_task("The runtime's task")
    lead.add_task("Another")
    alice = BoardClient(repo, "alice")
    alice.claim(1, lease=600)
    alice.claim(2, lease=600)
    report = tmp_path / "report.json"
    with session(repo, "--as", "alice", "--task", "1", "--report", str(report)) as s:
        tip = board_tip(repo)
        res = s.call("done_task", task_id=1, note="all done")
        assert not res.is_error and "when this session ends" in res.content[0].text
        assert board_tip(repo) == tip and board(repo).tasks[1].status == "in_progress"
        assert json.loads(report.read_text()) == {"task": 1, "done": {"ok": True, "note": "all done"}}
        s.ok("fail_task", task_id=1, note="changed my mind")
        assert json.loads(report.read_text())["done"] == {"ok": False, "note": "changed my mind"}
        # another task ends on the board at once
        assert s.ok("done_task", task_id=2)["status"] == "completed"
        threading.Thread(target=lambda: (time.sleep(0.5), lead.respond_plan(lead.pending_plans()[0].request_id,
                                                                            True)), daemon=True).start()
        assert s.ok("submit_plan", plan="p", timeout=60)["status"] == "approved"
        doc = json.loads(report.read_text())
        assert doc["plan"]["status"] == "approved" and doc["answered"] == [doc["plan"]["request_id"]]
        alice.set_member(status="working")
        req = lead.request_shutdown("alice")
        s.ok("answer_shutdown", request_id=req.request_id[:8], approve=True)
        assert json.loads(report.read_text())["shutdown"] == {"request_id": req.request_id, "approve": True}
        assert board(repo).team.member("alice").status == "shutdown"


def test_tools_lists_what_each_member_is_offered(repo: Path, run_cli) -> None:
    res = run_cli(["mcp", "--as", "alice", "--tools", "--json"], cwd=repo)
    assert res.exit_code == 0, res.stderr
    assert [t["name"] for t in res.json()] == list(TEAMMATE_TOOLS) and not any(t["lead"] for t in res.json())
    res = run_cli(["mcp", "--as", "lead", "--tools", "--json"], cwd=repo)
    assert [t["name"] for t in res.json() if t["lead"]] == list(LEAD_TOOLS)
    res = run_cli(["mcp", "--as", "alice", "--tools"], cwd=repo)
    assert res.stdout.splitlines()[0].split()[0] == "list_tasks" and len(res.stdout.splitlines()) == len(TEAMMATE_TOOLS)


def test_bad_options_are_one_line(repo: Path, run_cli) -> None:
    res = run_cli(["mcp", "--as", "Bad Name"], cwd=repo)
    assert res.exit_code == 2 and res.stderr.startswith("gitboard: error: invalid name")
    res = run_cli(["mcp", "--lease", "0"], cwd=repo)
    assert res.exit_code == 2 and "--lease" in res.stderr
    res = run_cli(["mcp", "--task", "1"], cwd=repo)
    assert res.exit_code == 2 and "--report" in res.stderr
    res = run_cli(["mcp", "--json"], cwd=repo)
    assert res.exit_code == 2 and res.json()["error"]["message"].startswith("--json goes with --tools")
