"""``gitboard send``, ``broadcast`` and ``inbox``: messages between the lead and teammates.

Senders are the lead or members on the roster (``gitboard team add``); the
check runs inside the same transaction as the send.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import partial
from typing import Any, Callable, Optional

import typer

from gitboard.board import inbox_ops
from gitboard.board.errors import NotFound
from gitboard.board.message import MESSAGE, check_type
from gitboard.board.names import check_name
from gitboard.board.snapshot import Board
from gitboard.cli.common import AS_OPT, JSON_OPT, OFFLINE_OPT, actor_name, board_client, emit, open_repo, warn


def new_id() -> str:
    """Return a fresh message or request id: a uuid4 as 32 hex digits."""
    return uuid.uuid4().hex


def check_known(board: Board, name: str, what: str) -> None:
    """Raise NotFound unless ``name`` is the lead or on the roster (``what``: "sender", "inbox" ...)."""
    if not inbox_ops.is_recipient(board, name):
        raise NotFound(f"unknown {what} {name!r}: not on the roster (add it with 'gitboard team add {name}')")


def as_member(op: Callable[[Board, datetime], Any], name: str) -> Callable[[Board, datetime], Any]:
    """Wrap operation ``op`` so that it first checks, on the same snapshot, that ``name`` may send."""

    def checked(board: Board, now: datetime) -> Any:
        check_known(board, name, "sender")
        return op(board, now)

    from gitboard.store.settle import op_key

    checked.key = op_key(op)  # type: ignore[attr-defined] - a repeat of ``op`` is a repeat of this
    return checked


def send(
    to: str = typer.Argument(..., metavar="TO", help="Recipient: lead or a member on the roster."),
    text: str = typer.Argument(..., metavar="TEXT", help="The message."),
    type_: str = typer.Option(MESSAGE, "--type", metavar="T", help="Message type: message (default) or broadcast; protocol types go through 'stop' and 'plan'."),
    msg_id: Optional[str] = typer.Option(None, "--id", metavar="ID", help="The message's id (default: a new one). A send repeated with the same id is delivered once."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Send a message to one inbox (one commit). Exit 4 for an unknown recipient, 2 for an invalid type.

    When the connection drops during the push and the remote stays unreachable, the error
    says the outcome is unknown and names the message id: repeat with ``--id`` and it is
    delivered once, whether or not the first push landed."""
    sender = actor_name(as_)
    check_type(type_)
    check_name(to, "recipient")
    from gitboard.board.errors import OutcomeUnknown

    msg_id = msg_id or new_id()
    op = as_member(partial(inbox_ops.send, sender=sender, to=to, content=text, msg_id=msg_id, type=type_), sender)
    with open_repo() as repo:
        try:
            msg = board_client().apply(op, repo=repo)
        except OutcomeUnknown as e:
            raise OutcomeUnknown(f"{e.message} (message id {msg_id}: repeat with --id {msg_id})", e.commit) from None

    def human() -> None:
        from gitboard.cli import team_render

        team_render.line(f"sent to {msg.to}: {msg.id}")

    emit(json_, msg.to_json(), human)


def broadcast(
    text: str = typer.Argument(..., metavar="TEXT", help="The message."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Send one message to every member but the sender (the lead included), in one commit."""
    sender = actor_name(as_)
    op = as_member(partial(inbox_ops.broadcast, sender=sender, content=text, msg_id=new_id()), sender)
    with open_repo() as repo:
        sent = board_client().apply(op, repo=repo)

    def human() -> None:
        from gitboard.cli import team_render

        if sent:
            team_render.line(f"broadcast to {', '.join(m.to for m in sent)}")
        else:
            team_render.line("no one to broadcast to")

    emit(json_, inbox_ops.message_json(sent), human)


def inbox(
    name: Optional[str] = typer.Argument(None, metavar="NAME", help="Whose inbox (default: the actor, --as)."),
    peek: bool = typer.Option(False, "--peek", help="Only look: leave the messages in the inbox."),
    offline: bool = OFFLINE_OPT,
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Read an inbox, oldest first, and drain it (one commit deleting exactly the messages shown).

    The drain's commit is made by the actor (--as), whoever's inbox it is. With
    --peek nothing changes. --json prints an array of message objects.
    """
    who = check_name(name, "name") if name is not None else actor_name(as_)
    if peek:
        from gitboard.store.read import read_board

        with open_repo(offline) as repo:
            board = read_board(repo)
        msgs = inbox_ops.peek(board, who)
        if not msgs:
            check_known(board, who, "inbox")
        corrupt = inbox_ops.corrupt_messages(board, who)
    else:
        actor = actor_name(as_)  # who drains: the commit's actor, whoever's inbox it is
        corrupt = {}

        def op(board: Board, now: datetime) -> Any:
            corrupt.clear()
            corrupt.update(inbox_ops.corrupt_messages(board, who))
            change = inbox_ops.drain(board, now, name=who, actor=actor)
            if not change.result:
                check_known(board, who, "inbox")
            return change

        from gitboard.store.settle import op_key

        # a repeat after an unknown outcome returns the messages of a drain that landed
        op.key = op_key(partial(inbox_ops.drain, name=who, actor=actor))  # type: ignore[attr-defined]
        with open_repo() as repo:
            msgs = board_client().apply(op, repo=repo)
    for path, why in sorted(corrupt.items()):
        warn(f"{path} is not a valid message and was left in place: {why}")

    def human() -> None:
        from gitboard.cli import team_render

        team_render.show(team_render.messages(msgs, empty=f"no messages for {who}"))

    emit(json_, inbox_ops.message_json(msgs), human)
