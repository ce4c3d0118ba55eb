"""``gitboard send``, ``broadcast`` and ``inbox``: peek against drain, broadcast in one commit, error paths."""

from __future__ import annotations

import pytest
from tests.cli.helpers import ok, one_error_line

MESSAGE_KEYS = ["id", "type", "from", "to", "content", "timestamp"]


def commits(git, repo) -> int:
    return int(git(repo, "rev-list", "--count", "gitboard"))


def test_send_peek_then_drain(run_cli, team, git):
    m = ok(run_cli(["send", "alice", "first", "--json"], cwd=team)).json()
    assert list(m) == MESSAGE_KEYS
    assert (m["type"], m["from"], m["to"], m["content"]) == ("message", "lead", "alice", "first")
    assert isinstance(m["timestamp"], float) and len(m["id"]) == 32
    ok(run_cli(["send", "alice", "second", "--as", "bob"], cwd=team))
    n = commits(git, team)
    peeked = ok(run_cli(["inbox", "alice", "--peek", "--json"], cwd=team)).json()
    assert [x["content"] for x in peeked] == ["first", "second"]
    assert ok(run_cli(["inbox", "alice", "--peek", "--json"], cwd=team)).json() == peeked
    assert commits(git, team) == n  # peeking writes nothing
    drained = ok(run_cli(["inbox", "--as", "alice", "--json"], cwd=team)).json()  # NAME defaults to the actor
    assert drained == peeked
    assert commits(git, team) == n + 1  # one drain commit
    assert ok(run_cli(["inbox", "alice", "--json"], cwd=team)).json() == []
    assert commits(git, team) == n + 1  # an empty drain is no commit


def test_human_inbox(run_cli, team):
    ok(run_cli(["send", "alice", "hello there", "--as", "bob"], cwd=team))
    out = ok(run_cli(["inbox", "alice"], cwd=team)).stdout
    assert "bob -> alice" in out and "hello there" in out
    assert "no messages for alice" in ok(run_cli(["inbox", "alice"], cwd=team)).stdout


def test_broadcast_is_one_commit_to_everyone_but_the_sender(run_cli, team, git):
    n = commits(git, team)
    sent = ok(run_cli(["broadcast", "standup", "--as", "alice", "--json"], cwd=team)).json()
    assert commits(git, team) == n + 1
    assert sorted(m["to"] for m in sent) == ["bob", "lead"]
    assert {m["type"] for m in sent} == {"broadcast"}
    assert git(team, "log", "-1", "--format=%(trailers:key=Gitboard-Action,valueonly,separator=)", "gitboard") == "broadcast"
    for who in ("bob", "lead"):
        (m,) = ok(run_cli(["inbox", who, "--json"], cwd=team)).json()
        assert (m["from"], m["content"]) == ("alice", "standup")
    assert ok(run_cli(["inbox", "alice", "--json"], cwd=team)).json() == []


def test_lead_is_always_a_valid_recipient(run_cli, repo):
    ok(run_cli(["send", "lead", "note to self"], cwd=repo))
    (m,) = ok(run_cli(["inbox", "--json"], cwd=repo)).json()
    assert (m["to"], m["from"]) == ("lead", "lead")


@pytest.mark.parametrize("args,code,words", [
    (["send", "carol", "hi"], 4, "unknown recipient 'carol'"),
    (["send", "alice", "hi", "--type", "telegram"], 2, "invalid message type 'telegram'"),
    (["send", "alice", "hi", "--type", "shutdown_request"], 2, "needs a request_id"),
    (["send", "alice", "   "], 2, "must not be empty"),
    (["send", "Alice!", "hi"], 2, "invalid recipient"),
    (["send", "alice", "hi", "--as", "carol"], 4, "unknown sender 'carol'"),
    (["broadcast", "hi", "--as", "carol"], 4, "unknown sender 'carol'"),
    (["inbox", "carol"], 4, "unknown inbox 'carol'"),
    (["inbox", "carol", "--peek"], 4, "unknown inbox 'carol'"),
])
def test_errors_are_one_line_and_change_nothing(run_cli, team, board_tip, args, code, words):
    tip = board_tip(team)
    res = run_cli(args, cwd=team)
    assert res.exit_code == code
    assert words in one_error_line(res)
    assert board_tip(team) == tip
    res = run_cli([*args, "--json"], cwd=team)
    assert res.exit_code == code and res.json()["error"]["kind"] in ("not_found", "invalid")
    assert board_tip(team) == tip


def test_unknown_recipient_through_the_console_script(run_gitboard, team, board_tip):
    tip = board_tip(team)
    res = run_gitboard(["send", "carol", "hi"], cwd=team)
    assert res.exit_code == 4
    assert res.stderr == "gitboard: error: unknown recipient 'carol': not on the roster (add it with 'gitboard team add carol')\n"
    assert res.stdout == "" and board_tip(team) == tip


def test_log_shows_inbox_actions(run_cli, team):
    ok(run_cli(["send", "alice", "x"], cwd=team))
    ok(run_cli(["inbox", "alice", "--as", "alice"], cwd=team))
    entries = ok(run_cli(["log", "--json", "-n", "2"], cwd=team)).json()
    assert [(e["action"], e["actor"]) for e in entries] == [("drain", "alice"), ("send", "lead")]


def test_a_drain_is_attributed_to_whoever_runs_it(run_cli, team, git):
    ok(run_cli(["send", "bob", "x", "--as", "alice"], cwd=team))
    ok(run_cli(["send", "bob", "y"], cwd=team))
    assert [m["content"] for m in ok(run_cli(["inbox", "bob", "--json"], cwd=team)).json()] == ["x", "y"]
    assert git(team, "log", "-1", "--format=%an%n%s", "gitboard") == "lead\ndrain 2 messages of bob by lead"
    trailers = git(team, "log", "-1", "--format=%(trailers:only,unfold)", "gitboard").splitlines()
    assert "Gitboard-Actor: lead" in trailers and "Gitboard-Action: drain" in trailers
    ok(run_cli(["send", "bob", "z"], cwd=team))
    ok(run_cli(["inbox", "--as", "bob"], cwd=team))  # bob drains his own
    assert git(team, "log", "-1", "--format=%an%n%s%n%(trailers:key=Gitboard-Actor,valueonly)", "gitboard"
               ).splitlines() == ["bob", "drain 1 message of bob", "bob"]
    entry = ok(run_cli(["log", "--json", "-n", "1"], cwd=team)).json()[0]
    assert (entry["action"], entry["actor"]) == ("drain", "bob")
