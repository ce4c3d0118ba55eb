"""The pure inbox operations: send, broadcast, drain, peek, and the message file format."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from gitboard.board import inbox_ops
from gitboard.board.change import ACTION, ACTOR, REQUEST, Change, NoChange
from gitboard.board.errors import Invalid, NotFound
from gitboard.board.layout import MESSAGE as MESSAGE_KIND, bucket, classify
from gitboard.board.message import MESSAGE_TYPES, Message, message_path
from gitboard.board.snapshot import ParseError, build
from tests.helpers.inbox_helpers import NOW, apply, empty_board


@pytest.fixture
def board():
    return empty_board(members=(("alice", "dev"), ("bob", None)))


def send(board, sender="lead", to="alice", content="hi", msg_id="m1", now=NOW, **kw):
    return inbox_ops.send(board, now, sender=sender, to=to, content=content, msg_id=msg_id, **kw)


def test_message_types_are_the_issues():
    assert MESSAGE_TYPES == ("message", "broadcast", "shutdown_request", "shutdown_response",
                             "plan_approval_request", "plan_approval_response")


def test_send_writes_one_message_file(board):
    change = send(board)
    assert isinstance(change, Change)
    (path, data), = change.writes.items()
    name = f"{int(NOW.timestamp() * 1e6):016d}-m1.json"
    assert path == f".team/inbox/alice/{bucket(name)}/{name}"
    assert classify(path) == (MESSAGE_KIND, "alice")
    assert json.loads(data) == {"id": "m1", "type": "message", "from": "lead", "to": "alice",
                                "content": "hi", "timestamp": NOW.timestamp()}
    assert list(json.loads(data)) == ["id", "type", "from", "to", "content", "timestamp"]
    assert data.endswith(b"}\n")
    assert change.result == Message("m1", "message", "lead", "alice", "hi", NOW.timestamp())
    assert dict(change.trailers)[ACTION] == "send" and dict(change.trailers)[ACTOR] == "lead"
    assert change.subject == "send message to alice by lead"


def test_message_round_trip_with_optional_fields():
    m = Message("x", "plan_approval_response", "lead", "bob", "ok", 12.5, request_id="r1", approve=False,
                feedback="no")
    d = m.to_json()
    assert d == {"id": "x", "type": "plan_approval_response", "from": "lead", "to": "bob", "content": "ok",
                 "timestamp": 12.5, "request_id": "r1", "approve": False, "feedback": "no"}
    assert Message.from_json(d) == m


@pytest.mark.parametrize("extra", [{}, {"request_id": "r1"}, {"approve": True}, {"approve": False, "feedback": "f"},
                                   {"plan": "p", "request_id": None}, {"timestamp": 3}])
def test_message_from_json_equals_the_constructed_message(extra):
    d = {"id": "x", "type": "message", "from": "lead", "to": "bob", "content": "c", "timestamp": 1.5, **extra}
    m = Message.from_json(d)
    want = Message("x", "message", "lead", "bob", "c", float(d["timestamp"]), request_id=d.get("request_id"),
                   approve=d.get("approve"), feedback=d.get("feedback"), plan=d.get("plan"))
    assert m == want and hash(m) == hash(want) and repr(m) == repr(want)
    assert type(m.timestamp) is float
    with pytest.raises(AttributeError):
        m.content = "changed"  # still frozen


@pytest.mark.parametrize("bad, reason", [
    ([], "message is not a JSON object"),
    ({"id": 1}, "message id is not a string"),
    ({"to": None}, "message to is not a string"),
    ({"timestamp": True}, "message timestamp is not a number"),
    ({"timestamp": "1"}, "message timestamp is not a number"),
    ({"timestamp": float("inf")}, "message timestamp inf is not a time"),
    ({"feedback": 3}, "message feedback is not a string or null"),
    ({"approve": "yes"}, "message approve is not a boolean"),
    ({"content": None}, "message content is not a string"),
    ({"timestamp": float("nan")}, "message timestamp nan is not a time"),
])
def test_message_from_json_names_the_bad_field(bad, reason):
    from gitboard.board.errors import Corrupt

    d = bad if isinstance(bad, list) else {"id": "x", "type": "message", "from": "lead", "to": "bob",
                                           "content": "c", "timestamp": 1.5, **bad}
    with pytest.raises(Corrupt) as e:
        Message.from_json(d)
    assert e.value.message == reason
    if isinstance(bad, dict) and len(bad) == 1 and next(iter(bad)) in d:  # six keys, one optional for a required
        d = {k: v for k, v in d.items() if k != next(iter(bad))}
        d["plan"] = "p"
        if len(d) == 6 and next(iter(bad)) != "plan":
            with pytest.raises(Corrupt):
                Message.from_json(d)


def test_lead_is_always_a_recipient_and_sender(board):
    assert send(board, to="lead", sender="alice").result.to == "lead"
    assert send(empty_board(), to="lead", sender="lead").result.from_ == "lead"


def test_unknown_recipient_is_not_found(board):
    with pytest.raises(NotFound, match="unknown recipient 'carol'"):
        send(board, to="carol")


@pytest.mark.parametrize("kw", [{"type": "nope"}, {"to": "Bad"}, {"sender": "no way"}, {"msg_id": "a/b"},
                                {"content": "  "}, {"type": "shutdown_request"},
                                {"type": "shutdown_response", "request_id": "r1"}])
def test_invalid_sends(board, kw):
    with pytest.raises(Invalid):
        send(board, **kw)


def test_protocol_type_with_its_fields_is_accepted(board):
    m = send(board, type="shutdown_response", request_id="r1", approve=True, content="").result
    assert (m.type, m.request_id, m.approve) == ("shutdown_response", "r1", True)


def test_resending_an_id_still_in_the_inbox_changes_nothing(board):
    first = send(board)
    after = apply(board, first)
    again = send(after, now=NOW + timedelta(seconds=3))
    assert isinstance(again, NoChange) and again.result == first.result


def test_peek_and_drain_oldest_first(board):
    b = board
    for k, (sender, text) in enumerate([("lead", "one"), ("bob", "two"), ("lead", "three")]):
        b = apply(b, send(b, sender=sender, content=text, msg_id=f"id{9 - k}", now=NOW + timedelta(seconds=k)))
    assert [m.content for m in inbox_ops.peek(b, "alice")] == ["one", "two", "three"]
    assert inbox_ops.peek(b, "bob") == []
    # peek changes nothing: peeking again sees the same
    assert [m.content for m in inbox_ops.peek(b, "alice")] == ["one", "two", "three"]
    change = inbox_ops.drain(b, NOW, name="alice")
    assert [m.content for m in change.result] == ["one", "two", "three"]
    assert all(v is None for v in change.writes.values()) and len(change.writes) == 3
    assert dict(change.trailers)[ACTION] == "drain" and dict(change.trailers)[ACTOR] == "alice"
    drained = apply(b, change)
    assert inbox_ops.peek(drained, "alice") == []
    empty = inbox_ops.drain(drained, NOW, name="alice")
    assert isinstance(empty, NoChange) and empty.result == []


def test_drain_deletes_only_what_it_saw(board):
    b = apply(board, send(board, msg_id="early"))
    change = inbox_ops.drain(b, NOW, name="alice")  # computed on the old snapshot
    later = send(b, msg_id="late", now=NOW + timedelta(seconds=1))
    assert set(change.writes).isdisjoint(later.writes)  # a message it never saw is never deleted


def test_a_drain_of_listed_ids_removes_only_those_and_is_a_legal_drain(board):
    from gitboard.board import rules

    b = apply(board, send(board, msg_id="m1"))
    b = apply(b, send(b, msg_id="m2", now=NOW + timedelta(seconds=1)))
    b = apply(b, send(b, msg_id="m3", now=NOW + timedelta(seconds=2)))
    change = inbox_ops.drain(b, NOW, name="alice", ids=["m3", "m1", "gone"])
    assert [m.id for m in change.result] == ["m1", "m3"]  # oldest first; an id already gone is skipped
    assert rules.check_change(b, change.writes, change.trailers, NOW) == []
    after = apply(b, change)
    assert [m.id for m in inbox_ops.peek(after, "alice")] == ["m2"]
    assert inbox_ops.drain(after, NOW, name="alice", ids=["m1", "m3"]) == NoChange([])  # a repeat
    for bad in (["not an id!"], "m2"):
        with pytest.raises(Invalid):
            inbox_ops.drain(after, NOW, name="alice", ids=bad)


def test_drain_names_who_drains_not_whose_inbox(board):
    b = apply(board, send(board, msg_id="m1"))
    change = inbox_ops.drain(b, NOW, name="alice", actor="lead")
    assert dict(change.trailers)[ACTOR] == "lead"
    assert change.subject == "drain 1 message of alice by lead"
    own = inbox_ops.drain(b, NOW, name="alice")  # the runtime's own drain: the actor is the inbox's owner
    assert dict(own.trailers)[ACTOR] == "alice" and own.subject == "drain 1 message of alice"
    assert inbox_ops.drain(b, NOW, name="alice", actor="alice").subject == own.subject
    with pytest.raises(Invalid):
        inbox_ops.drain(b, NOW, name="alice", actor="Not A Name")


def test_broadcast_reaches_everyone_but_the_sender_in_one_change(board):
    change = inbox_ops.broadcast(board, NOW, sender="alice", content="hello all", msg_id="b1")
    assert isinstance(change, Change)
    assert [m.to for m in change.result] == ["lead", "bob"]
    assert [m.id for m in change.result] == ["b1-lead", "b1-bob"]
    assert {m.type for m in change.result} == {"broadcast"}
    assert sorted(p.split("/")[2] for p in change.writes) == ["bob", "lead"]
    assert dict(change.trailers)[ACTION] == "broadcast"
    by_lead = inbox_ops.broadcast(board, NOW, sender="lead", content="x", msg_id="b2")
    assert [m.to for m in by_lead.result] == ["alice", "bob"]


def test_broadcast_to_nobody_changes_nothing():
    change = inbox_ops.broadcast(empty_board(), NOW, sender="lead", content="x", msg_id="b")
    assert isinstance(change, NoChange) and change.result == []


def test_corrupt_message_files_are_skipped_and_kept(board):
    files = {".team/config.json": board.team.to_json(),
             message_path("alice", 1.0, "good"): Message("good", "message", "lead", "alice", "ok", 1.0).to_json(),
             message_path("alice", 2.0, "bad"): {"id": 3},
             message_path("alice", 3.0, "worse"): ParseError("not valid JSON")}
    b = build("0" * 40, files)
    assert [m.id for m in inbox_ops.peek(b, "alice")] == ["good"]
    assert set(inbox_ops.corrupt_messages(b, "alice")) == {message_path("alice", 2.0, "bad"),
                                                          message_path("alice", 3.0, "worse")}
    assert list(inbox_ops.drain(b, NOW, name="alice").writes) == [message_path("alice", 1.0, "good")]


def test_an_invalid_message_among_valid_ones_is_skipped_in_order(board):
    """Every file parses as JSON, one is no message: the others, oldest first, and only they drained."""
    good = [Message(f"g{i}", "message", "lead", "alice", f"m{i}", float(i)) for i in (1, 2, 4, 5)]
    files = {".team/config.json": board.team.to_json(), message_path("alice", 3.0, "bad"): {"id": "bad"},
             **{message_path("alice", m.timestamp, m.id): m.to_json() for m in good}}
    b = build("0" * 40, files)
    assert inbox_ops.peek(b, "alice") == good
    assert inbox_ops.corrupt_messages(b, "alice") == {message_path("alice", 3.0, "bad"): "message type is not a string"}
    change = inbox_ops.drain(b, NOW, name="alice")
    assert list(change.writes) == [message_path("alice", m.timestamp, m.id) for m in good]
    assert change.result == good


def test_send_trailers_name_the_request(board):
    change = send(board, type="plan_approval_request", request_id="r9", plan="p", content="p")
    assert dict(change.trailers)[REQUEST] == "r9"
