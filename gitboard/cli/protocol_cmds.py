"""``gitboard stop`` (the shutdown protocol) and ``gitboard plan ...`` (plan approval)."""

from __future__ import annotations

import time
from functools import partial
from typing import Optional

import typer

from gitboard.board import protocol_ops
from gitboard.board.errors import BoardError, Conflict, Invalid, NotFound
from gitboard.board.names import check_name
from gitboard.board.request import (APPROVED, PLAN, REJECTED, REQUEST_STATUSES, Request, request_of,
                                    requests_of, resolve_id)
from gitboard.board.snapshot import Board
from gitboard.board.roster_ops import SHUTDOWN, set_member
from gitboard.cli.common import AS_OPT, JSON_OPT, OFFLINE_OPT, actor_name, board_client, emit, open_repo, warn
from gitboard.cli.inbox_cmds import new_id

#: Seconds between board reads while ``stop --wait`` waits for the answer.
POLL_INTERVAL = 0.2

#: Seconds ``stop --force`` gives a teammate's process group after SIGTERM before SIGKILL.
KILL_GRACE = 5.0


def wait_for_answer(repo, request_id: str, seconds: float, poll: float = POLL_INTERVAL) -> Request:
    """Read the board (fresh, fetching in remote mode) every ``poll`` seconds until request
    ``request_id`` is answered or ``seconds`` have passed; return it as last read.

    Raises:
        NotFound: the request disappeared from the board. GitFailure: as :func:`read_board`.
    """
    from gitboard.store.read import read_board

    limit = time.monotonic() + seconds
    while True:
        req = request_of(read_board(repo), request_id)
        if req is None:
            raise NotFound(f"no request {request_id!r} on the board")
        left = limit - time.monotonic()
        if req.answered or left <= 0:
            return req
        time.sleep(min(poll, left))


def stop(
    name: str = typer.Argument(..., metavar="NAME", help="The teammate to shut down."),
    wait: Optional[float] = typer.Option(None, "--wait", metavar="SECONDS", help="Wait up to SECONDS for the answer: exit 0 approved, 3 rejected, 1 no answer."),
    force: bool = typer.Option(False, "--force", help="Also end the teammate's process group (by its recorded pid, on this host only) and mark it shutdown."),
    reason: str = typer.Option("", "--reason", metavar="TEXT", help="Why; the content of the shutdown_request."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Ask a teammate to shut down: a shutdown_request message plus a pending request record, in one commit.

    The teammate answers with a shutdown_response; approving marks it shutdown.
    With --force the process group is ended after the answer is not an approval
    (right away without --wait) -- only if the recorded pid (roster or pid file) is
    still NAME's teammate process. --json prints {"request", "member", "killed"}.
    """
    from gitboard.proc import end_process_group, this_host
    from gitboard.runtime.process import live_process
    from gitboard.store.read import read_board
    actor = actor_name(as_)
    check_name(name, "member")
    if wait is not None and wait < 0:
        raise Invalid(f"--wait must be zero or more seconds, not {wait}")
    killed = False
    with open_repo() as repo:
        board = read_board(repo)
        member = board.team.member(name)
        if member is None:
            raise NotFound(f"no member named {name!r} on the roster")
        host = this_host()
        if force and member.pid is not None and member.host and member.host != host and member.status != SHUTDOWN:
            raise Conflict(f"cannot --force {name}: it runs on host {member.host}, not on this host ({host}); "
                           f"stop it there, or without --force")
        req: Request | None = None
        if not (force and member.status == SHUTDOWN):
            op = partial(protocol_ops.request_shutdown, sender=actor, to=name, request_id=new_id(),
                         msg_id=new_id(), reason=reason)
            req = board_client().apply(op, repo=repo)
            if wait is not None:
                req = wait_for_answer(repo, req.request_id, wait)
        if force and (req is None or req.status != APPROVED):
            member = read_board(repo).team.member(name) or member
            found = live_process(repo, name, member) if member.host == host else None
            if found is not None:  # identity checked: a stale pid now used by another program is left alone
                killed = end_process_group(found[0], grace=KILL_GRACE, start=found[1])
            member = board_client().apply(partial(set_member, actor=actor, name=name, status=SHUTDOWN, task=None), repo=repo)
        else:
            member = read_board(repo).team.member(name) or member
    doc = {"request": req.to_json() if req else None, "member": member.to_json(), "killed": killed}

    if not force and req is not None and wait is not None:
        if req.status == REJECTED:
            raise Conflict(f"{name} rejected shutdown request {req.request_id}" + (f": {req.reason}" if req.reason else ""))
        if req.status != APPROVED:
            raise BoardError(f"no answer from {name} to shutdown request {req.request_id} within {wait:g} s; "
                             f"it stays pending")

    def human() -> None:
        from gitboard.cli import team_render

        if req is not None:
            verb = "sent" if req.status == "pending" else "answered:"
            team_render.request_line(verb, req)
        if force:
            team_render.line(f"{name} is shutdown" + (f" (ended process group {member.pid})" if killed else ""))

    emit(json_, doc, human)


plan_app = typer.Typer(help="Plan approval: list plan requests, approve or reject them.", no_args_is_help=True)


def resolve(board: Board, request_id: str, kind: str) -> str:
    """Return the full id of the ``kind`` request named by ``request_id`` or a unique prefix (see :func:`resolve_id`)."""
    return resolve_id(board, request_id, kind)


def _answer(request_id: str, approve: bool, feedback: str, as_: Optional[str], json_: bool) -> None:
    from gitboard.store.read import read_board
    actor = actor_name(as_)
    with open_repo() as repo:
        full = resolve(read_board(repo), request_id, PLAN)
        op = partial(protocol_ops.respond_plan, sender=actor, request_id=full, approve=approve,
                     feedback=feedback, msg_id=new_id())
        req = board_client().apply(op, repo=repo)

    def human() -> None:
        from gitboard.cli import team_render

        team_render.request_line("answered", req)

    emit(json_, req.to_json(), human)


@plan_app.command("list")
def plan_list(
    status: Optional[str] = typer.Option(None, "--status", "-s", help="Only requests with this status: pending, approved, rejected."),
    offline: bool = OFFLINE_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """List plan requests, oldest first (with --json, an array of request objects)."""
    from gitboard.board.request import corrupt_requests
    from gitboard.store.read import read_board

    if status is not None and status not in REQUEST_STATUSES:
        raise Invalid(f"unknown request status {status!r}: expected one of {', '.join(REQUEST_STATUSES)}")
    with open_repo(offline) as repo:
        board = read_board(repo)
    reqs = [r for r in requests_of(board, PLAN) if status is None or r.status == status]
    for path, why in sorted(corrupt_requests(board).items()):
        warn(f"{path} is corrupt and was skipped: {why}")

    def human() -> None:
        from gitboard.cli import team_render

        team_render.show(team_render.request_table(reqs))

    emit(json_, [r.to_json() for r in reqs], human)


@plan_app.command("approve")
def plan_approve(
    request_id: str = typer.Argument(..., metavar="REQ", help="The plan request's id (or a unique prefix of 4+ characters)."),
    feedback: str = typer.Option("", "--feedback", metavar="TEXT", help="Notes for the teammate."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Approve a pending plan: a plan_approval_response to the submitter. Exit 4 unknown, 3 already answered."""
    _answer(request_id, True, feedback, as_, json_)


@plan_app.command("reject")
def plan_reject(
    request_id: str = typer.Argument(..., metavar="REQ", help="The plan request's id (or a unique prefix of 4+ characters)."),
    feedback: str = typer.Option(..., "--feedback", metavar="TEXT", help="Why, and what to change (required)."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Reject a pending plan with feedback: a plan_approval_response to the submitter. Exit 4 unknown, 3 already answered."""
    if not feedback.strip():
        raise Invalid("rejecting a plan needs --feedback TEXT")
    _answer(request_id, False, feedback, as_, json_)
