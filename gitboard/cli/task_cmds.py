"""``gitboard task ...``: add, import, list, show, claim, release, renew, done, fail, update."""

from __future__ import annotations

import json
import sys
from functools import partial
from typing import List, Optional

import typer

from gitboard.board import task_ops
from gitboard.board.clock import utcnow
from gitboard.board.errors import Invalid
from gitboard.board.names import LEAD
from gitboard.board.task import STATUSES, Task
from gitboard.cli.common import (
    AS_OPT, JSON_OPT, OFFLINE_OPT, actor_name, board_client, emit, emit_utf8, open_repo, task_array, warn,
)

app = typer.Typer(help="Add, list, claim and finish tasks.", no_args_is_help=True)

#: The state words of ``task list``'s state column that are not statuses (see
#: :func:`gitboard.words.state`): ``--status`` takes them too.
STATE_WORDS = ("ready", "blocked", "expired")

ID_ARG = typer.Argument(..., metavar="ID", help="Task id.", min=1)


def _apply(operation, human_verb: str, json_mode: bool, *, runners: bool = False):
    with open_repo() as repo:
        if runners:  # who besides the lead may set a run command: git config gitboard.hook.runners
            from gitboard.store.hooks import runners_of

            operation = partial(operation, runners=runners_of(repo.config_records))
        task = board_client().apply(operation, repo=repo)
    emit(json_mode, task.to_json(), lambda: _say_task(human_verb, task))
    return task


def _say_task(verb: str, task: Task) -> None:
    from gitboard.cli import render

    who = f" by {task.owner}" if task.owner and verb in ("claimed", "renewed", "completed", "failed") else ""
    extra = f" (lease until {task.lease_expires_at})" if verb in ("claimed", "renewed") and task.lease_expires_at else ""
    render.line(f"{verb} #{task.id}{who}{extra}: {task.subject}")


@app.command("add")
def add(
    subject: str = typer.Argument(..., help="One-line summary of the task."),
    description: str = typer.Option("", "--description", "-d", help="Longer description."),
    blocked_by: List[int] = typer.Option([], "--blocked-by", metavar="ID", help="A task that must complete first (repeatable)."),
    run: Optional[str] = typer.Option(None, "--run", metavar="CMD", help="Shell command a shell-agent teammate runs for this task."),
    role: Optional[str] = typer.Option(None, "--role", help="Only a claimer with this role may take it."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Add a pending task; prints the new task (with --json, the task object)."""
    op = partial(task_ops.add, actor=actor_name(as_), subject=subject, description=description,
                 blocked_by=blocked_by, run=run, role=role)
    _apply(op, "added", json_, runners=run is not None)


@app.command("import")
def import_(
    file: str = typer.Argument(..., metavar="FILE", help="JSON Lines file of task objects without ids; - reads stdin."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Bulk-add tasks from JSON Lines in one commit.

    Line k gets id max+k (max: the highest id on the board), so a blockedBy may
    name tasks on the board or earlier lines. Keys: subject, description,
    blockedBy, run, role. Blank lines are skipped.
    """
    actor = actor_name(as_)
    try:
        text = sys.stdin.read() if file == "-" else open(file, encoding="utf-8").read()
    except OSError as e:
        raise Invalid(f"cannot read {file}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise Invalid(f"{file} is not UTF-8 text") from None
    items, lines = [], []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            items.append(json.loads(raw))
        except ValueError as e:
            raise Invalid(f"line {n}: not valid JSON: {e}") from None
        lines.append(n)
    with open_repo() as repo:
        from gitboard.store.hooks import runners_of

        tasks = board_client().apply(partial(task_ops.import_tasks, actor=actor, items=items, lines=lines,
                                             runners=runners_of(repo.config_records)), repo=repo)

    def human() -> None:
        from gitboard.cli import render

        span = f"#{tasks[0].id}" if len(tasks) == 1 else f"#{tasks[0].id}-#{tasks[-1].id}"
        render.line(f"imported {len(tasks)} task{'s' if len(tasks) != 1 else ''}: {span}")

    emit(json_, task_array(tasks), human)


@app.command("list")
def list_(
    status: Optional[str] = typer.Option(None, "--status", "-s", metavar="STATE", help=f"Only tasks in this state, as the list's state column names it: a status ({', '.join(STATUSES)}) or {', '.join(STATE_WORDS)} (a pending task ready to claim or waiting on a blocker; an in-progress task whose lease ran out)."),
    owner: Optional[str] = typer.Option(None, "--owner", help="Only tasks owned by NAME."),
    ready: bool = typer.Option(False, "--ready", help="Only tasks ready to claim."),
    role: Optional[str] = typer.Option(None, "--role", help="With --ready: only tasks this role may claim."),
    offline: bool = OFFLINE_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """List tasks sorted by id (with --json, an array of task objects)."""
    from gitboard.store.read import read_board

    if status is not None and status not in STATE_WORDS:
        if status not in STATUSES:
            raise Invalid(f"unknown status {status!r}: expected one of {', '.join(STATUSES + STATE_WORDS)}")
    now = utcnow()
    with open_repo(offline) as repo:
        if json_ and status not in STATE_WORDS:  # straight from the parse cache when it can: no task objects built
            from gitboard.store.listing import task_list_json

            fast = task_list_json(repo, now, status=status, owner=owner, ready=ready, role=role)
            if fast is not None:
                pieces, corrupt = fast
                for path, why in sorted(corrupt.items()):
                    warn(f"{path} is corrupt and was skipped: {why}")
                emit_utf8(pieces)
                return
            board = read_board(repo, fresh=False)  # fetched just now
        else:
            board = read_board(repo)
    tasks = [board.tasks[i] for i in sorted(board.tasks)]
    if ready:  # without --role: ready tasks of any role
        tasks = [t for t in tasks if board.is_ready(t, now) and (role is None or t.role in (None, role))]
    if status in STATE_WORDS:
        from gitboard.words import state

        tasks = [t for t in tasks if state(board, t, now) == status]
    elif status is not None:
        tasks = [t for t in tasks if t.status == status]
    if owner is not None:
        tasks = [t for t in tasks if t.owner == owner]
    for path, why in sorted(board.corrupt.items()):
        warn(f"{path} is corrupt and was skipped: {why}")

    def human() -> None:
        from gitboard.cli import render

        render.show(render.task_table(board, tasks, now))

    emit(json_, task_array(tasks), human)


@app.command("show")
def show(task_id: int = ID_ARG, offline: bool = OFFLINE_OPT, json_: bool = JSON_OPT) -> None:
    """Show one task."""
    from gitboard.store.read import read_board

    with open_repo(offline) as repo:
        board = read_board(repo)
    task = board.task(task_id)

    def human() -> None:
        from gitboard.cli import render

        render.show(render.task_detail(board, task, utcnow()))

    emit(json_, task.to_json(), human)


@app.command("claim")
def claim(
    task_id: Optional[int] = typer.Argument(None, metavar="ID", help="Task to claim (or use --next).", min=1),
    next_: bool = typer.Option(False, "--next", help="Claim the lowest-id ready task matching your role."),
    role: Optional[str] = typer.Option(None, "--role", help="Your role (default: your role on the roster)."),
    lease: Optional[float] = typer.Option(None, "--lease", metavar="SECONDS", help="Claim with a lease that expires after SECONDS; renew with 'task renew'."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Claim a task: one commit that fails if someone else got there first.

    Exit 3 if it is claimed by another, blocked, finished or needs another role;
    exit 4 if there is no such task, or with --next nothing is ready.
    """
    if (task_id is None) == (not next_):
        raise Invalid("give a task ID or --next (not both)")
    if next_:
        from gitboard.store.narrow import claim_next

        op = claim_next(actor_name(as_), role=role, lease=lease)  # reads the ready tasks only
    else:
        op = partial(task_ops.claim, actor=actor_name(as_), task_id=task_id, role=role, lease=lease)
    _apply(op, "claimed", json_)


@app.command("release")
def release(
    task_id: int = ID_ARG,
    force: bool = typer.Option(False, "--force", help="As the lead: take the claim back from whoever owns it."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Give a claimed task back to the board (pending, unowned)."""
    actor = actor_name(as_)
    if force and actor != LEAD:
        raise Invalid("--force is for the lead (run as --as lead)")
    _apply(partial(task_ops.release, actor=actor, task_id=task_id, force=force), "released", json_)


@app.command("renew")
def renew(
    task_id: int = ID_ARG,
    lease: float = typer.Option(task_ops.DEFAULT_LEASE, "--lease", metavar="SECONDS", help="New lease length from now."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Renew the lease on a task you own."""
    _apply(partial(task_ops.renew, actor=actor_name(as_), task_id=task_id, lease=lease), "renewed", json_)


def _finish(task_id: int, ok: bool, note: str | None, as_: str | None, json_: bool) -> None:
    result = {"note": note} if note else None
    op = partial(task_ops.finish, actor=actor_name(as_), task_id=task_id, ok=ok, result=result)
    _apply(op, "completed" if ok else "failed", json_)


@app.command("done")
def done(task_id: int = ID_ARG,
         note: Optional[str] = typer.Option(None, "--note", help="Stored as the result: {\"note\": TEXT}."),
         as_: Optional[str] = AS_OPT, json_: bool = JSON_OPT) -> None:
    """Mark your task completed (only its owner may)."""
    _finish(task_id, True, note, as_, json_)


@app.command("fail")
def fail(task_id: int = ID_ARG,
         note: Optional[str] = typer.Option(None, "--note", help="Stored as the result: {\"note\": TEXT}."),
         as_: Optional[str] = AS_OPT, json_: bool = JSON_OPT) -> None:
    """Mark your task failed (only its owner may)."""
    _finish(task_id, False, note, as_, json_)


@app.command("update")
def update(
    task_id: int = ID_ARG,
    subject: Optional[str] = typer.Option(None, "--subject", help="New subject."),
    description: Optional[str] = typer.Option(None, "--description", "-d", help="New description."),
    blocked_by: List[int] = typer.Option([], "--blocked-by", metavar="ID", help="Add a blocker (repeatable)."),
    unblock: List[int] = typer.Option([], "--unblock", metavar="ID", help="Remove a blocker (repeatable)."),
    status: Optional[str] = typer.Option(None, "--status", help="pending (clears the owner), completed or failed."),
    run: Optional[str] = typer.Option(None, "--run", metavar="CMD", help="New run command (\"\" clears it)."),
    role: Optional[str] = typer.Option(None, "--role", help="New required role (\"\" clears it)."),
    as_: Optional[str] = AS_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Edit a task. Rejects blockers that name no task or would make a cycle."""
    op = partial(task_ops.update, actor=actor_name(as_), task_id=task_id, subject=subject,
                 description=description, blocked_by=blocked_by, unblock=unblock, status=status,
                 run=run, role=role)
    _apply(op, "updated", json_, runners=run is not None)
