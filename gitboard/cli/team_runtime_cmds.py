"""``gitboard spawn``, ``work``, ``logs`` and ``demo``: the teammate runtime's commands.

Heavy modules (the runtime, rich, and never anthropic unless the anthropic
agent runs) are imported inside the commands.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from gitboard.board.errors import Invalid
from gitboard.board.names import check_role
from gitboard.cli.common import JSON_OPT, emit, open_repo
from gitboard.llm.models import DEFAULT_MODEL  # the model's name in --help; no SDK import

NAME_ARG = typer.Argument(..., metavar="NAME", help="The teammate's name: a lowercase letter, then up to 31 lowercase letters, digits, - or _.")
ROLE_OPT = typer.Option(None, "--role", metavar="R", help="The member's role: it claims only tasks with no role or this one.")
PROMPT_OPT = typer.Option(None, "--prompt", metavar="TEXT", help="Standing instructions added to the teammate's system prompt.")
AGENT_OPT = typer.Option(None, "--agent", metavar="NAME",
                         help="How the teammate works: anthropic, shell, exec, or an agent CLI preset: claude "
                              "(Claude Code), codex, aider (or one defined with git config gitboard.agent.NAME.*). "
                              "Default: anthropic when ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN is set, else shell.")
AGENT_CMD_OPT = typer.Option(None, "--agent-cmd", metavar="CMD", help="Command line for the exec agent (the task prompt goes on its stdin).")
MODEL_OPT = typer.Option(None, "--model", metavar="M",
                         help=f"Model for the anthropic agent. Default: git config gitboard.model, else $GITBOARD_MODEL, else {DEFAULT_MODEL}.")
POLL_OPT = typer.Option(5.0, "--poll", metavar="SECONDS", help="Idle poll interval (also how often the inbox is read while a command runs).")
IDLE_OPT = typer.Option(60.0, "--idle-timeout", metavar="SECONDS", help="Idle time before the teammate shuts down.")
LEASE_OPT = typer.Option(600.0, "--lease", metavar="SECONDS", help="Claim lease; renewed every third of it while working.")
TURNS_OPT = typer.Option(None, "--max-turns", metavar="N", help="Model turns per task (anthropic agent).")
BUDGET_USD_OPT = typer.Option(None, "--budget-usd", metavar="USD",
                              help="Per-task budget in USD: the agent is stopped once a task's cost reaches it and "
                                   "the task fails with reason 'budget ...' (work so far committed).")
BUDGET_TOKENS_OPT = typer.Option(None, "--budget-tokens", metavar="N",
                                 help="Per-task budget in tokens (input, output, cache reads and writes summed).")
PLAN_FIRST_OPT = typer.Option(False, "--plan-first",
                              help="Each task starts with a plan the lead approves ('gitboard plan approve'); the "
                                   "teammate starts work only then (anthropic, or claude/codex through gitboard's "
                                   "MCP server). A rejection's feedback reaches the agent, which revises the plan.")
STALL_OPT = typer.Option(900.0, "--stall-timeout", metavar="SECONDS",
                         help="An agent with no output and no tool call for this long is stopped, its work "
                              "committed and its task released with reason 'stalled'.")


#: Largest --poll and --idle-timeout accepted (seconds, about 11.6 days): larger values
#: overflow the waits they feed (threading's timeouts) and mean "never" anyway.
MAX_INTERVAL = 1e6


def _check(name: str, role: str | None, poll: float, idle_timeout: float, lease: float,
           max_turns: int | None, budget_usd: float | None = None, budget_tokens: int | None = None,
           stall_timeout: float = 900.0) -> None:
    """Validate ``spawn``/``work`` options before anything starts or changes.

    Args:
        name: the teammate; a valid name, not ``lead`` (the human lead's).
        role: a valid role or None.
        poll, idle_timeout: seconds, finite, in (0, :data:`MAX_INTERVAL`].
        lease: seconds, finite, in (0, ``task_ops.MAX_LEASE``] (what the board accepts for a claim).
        max_turns: None or at least 1.
        budget_usd: None or a positive finite number of USD; budget_tokens: None or at least 1.
        stall_timeout: seconds, finite, in (0, :data:`MAX_INTERVAL`].

    Raises:
        Invalid: the first bad value (exit 2).
    """
    import math

    from gitboard.board.task_ops import MAX_LEASE
    from gitboard.runtime.process import check_name_for_teammate

    check_name_for_teammate(name)
    check_role(role)
    for flag, value, limit in (("--poll", poll, MAX_INTERVAL), ("--idle-timeout", idle_timeout, MAX_INTERVAL),
                               ("--lease", lease, MAX_LEASE), ("--stall-timeout", stall_timeout, MAX_INTERVAL)):
        if not (math.isfinite(value) and 0 < value <= limit):
            raise Invalid(f"{flag} must be a positive number of seconds up to {limit:.0f}, not {value:g}")
    if max_turns is not None and max_turns < 1:
        raise Invalid(f"--max-turns must be at least 1, not {max_turns}")
    if budget_usd is not None and not (math.isfinite(budget_usd) and budget_usd > 0):
        raise Invalid(f"--budget-usd must be a positive number of USD, not {budget_usd:g}")
    if budget_tokens is not None and budget_tokens < 1:
        raise Invalid(f"--budget-tokens must be at least 1, not {budget_tokens}")


def _note(note: str | None) -> None:
    if note:
        sys.stderr.write(f"gitboard: note: {note}\n")


def _work_options(kind: str, agent_cmd: str | None, role: str | None, prompt: str | None, model: str | None,
                  poll: float, idle_timeout: float, lease: float, max_turns: int | None,
                  budget_usd: float | None = None, budget_tokens: int | None = None,
                  stall_timeout: float = 900.0, plan_first: bool = False) -> list[str]:
    opts = ["--plan-first"] if plan_first else []
    opts += ["--agent", kind, "--poll", repr(poll), "--idle-timeout", repr(idle_timeout), "--lease", repr(lease),
            "--stall-timeout", repr(stall_timeout)]
    if budget_usd is not None:
        opts += ["--budget-usd", repr(budget_usd)]
    if budget_tokens is not None:
        opts += ["--budget-tokens", str(budget_tokens)]
    for flag, value in (("--agent-cmd", agent_cmd), ("--role", role), ("--prompt", prompt), ("--model", model)):
        if value:
            opts += [flag, value]
    if max_turns is not None:
        opts += ["--max-turns", str(max_turns)]
    return opts


def spawn(
    name: str = NAME_ARG,
    role: Optional[str] = ROLE_OPT,
    prompt: Optional[str] = PROMPT_OPT,
    agent: Optional[str] = AGENT_OPT,
    agent_cmd: Optional[str] = AGENT_CMD_OPT,
    model: Optional[str] = MODEL_OPT,
    poll: float = POLL_OPT,
    idle_timeout: float = IDLE_OPT,
    lease: float = LEASE_OPT,
    max_turns: Optional[int] = TURNS_OPT,
    budget_usd: Optional[float] = BUDGET_USD_OPT,
    budget_tokens: Optional[int] = BUDGET_TOKENS_OPT,
    stall_timeout: float = STALL_OPT,
    plan_first: bool = PLAN_FIRST_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Start teammate NAME as a detached process ('gitboard work NAME') and return at once.

    It registers on the board as working, logs to <git-common-dir>/gitboard/logs/NAME.log
    ('gitboard logs NAME') and acts as NAME (GITBOARD_ACTOR). A working NAME exits 3; an
    idle or shut-down NAME is restarted.
    """
    from gitboard.agents import registry as agents
    from gitboard.runtime.loop import team_budget
    from gitboard.runtime.process import spawn as start

    _check(name, role, poll, idle_timeout, lease, max_turns, budget_usd, budget_tokens, stall_timeout)
    from gitboard.runtime.worktree import base_commit, worktrees_dir

    with open_repo() as repo:
        kind, note = agents.choose(agent, agent_cmd, config=repo.config)
        agents.check_installed(kind, repo.config)
        if plan_first:
            agents.check_plan_first(kind, repo.config)
        options = _work_options(kind, agent_cmd, role, prompt, model, poll, idle_timeout, lease, max_turns,
                                budget_usd, budget_tokens, stall_timeout, plan_first)
        base_commit(repo)  # no base branch with a commit: refuse now rather than fail every task
        worktrees_dir(repo)  # nowhere to put worktrees (inside the working tree ...): the same
        team_budget(repo.config)  # a bad gitboard.budget.usd: the same
        spawned = start(repo, name, options, role=role)
        host_dir = repo.work_dir or repo.git_dir
    _note(note)
    doc = {"name": name, "pid": spawned.pid, "agent": kind, "log": str(spawned.log), "repo": host_dir}

    def human() -> None:
        from gitboard.cli import render

        render.line(f"spawned {name} (pid {spawned.pid}, {kind} agent); log: gitboard logs {name}")

    emit(json_, doc, human)


def work(
    name: str = NAME_ARG,
    role: Optional[str] = ROLE_OPT,
    prompt: Optional[str] = PROMPT_OPT,
    agent: Optional[str] = AGENT_OPT,
    agent_cmd: Optional[str] = AGENT_CMD_OPT,
    model: Optional[str] = MODEL_OPT,
    poll: float = POLL_OPT,
    idle_timeout: float = IDLE_OPT,
    lease: float = LEASE_OPT,
    max_turns: Optional[int] = TURNS_OPT,
    budget_usd: Optional[float] = BUDGET_USD_OPT,
    budget_tokens: Optional[int] = BUDGET_TOKENS_OPT,
    stall_timeout: float = STALL_OPT,
    plan_first: bool = PLAN_FIRST_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Run teammate NAME in the foreground until it shuts down (how a clone on another machine joins).

    The log goes to stdout (to stderr with --json, which prints {"name", "exit"} at the end).
    Ctrl-C stops it cleanly: its command is stopped and its task released.
    """
    from gitboard.agents import registry as agents
    from gitboard.runtime.loop import Settings, Teammate, install_signal_handlers, team_budget
    from gitboard.runtime.port import Logger
    from gitboard.runtime.process import check_can_start, clear_pid, write_pid

    _check(name, role, poll, idle_timeout, lease, max_turns, budget_usd, budget_tokens, stall_timeout)
    from gitboard.runtime.worktree import base_commit, worktrees_dir

    with open_repo() as repo:
        kind, note = agents.choose(agent, agent_cmd, config=repo.config)
        agents.check_installed(kind, repo.config)
        if plan_first:
            agents.check_plan_first(kind, repo.config)
        config = repo.config
        _note(note)
        check_can_start(repo, name, restart_idle=False, me=os.getpid())
        base_commit(repo)  # no base branch with a commit: refuse now rather than fail every task
        worktrees_dir(repo)  # nowhere to put worktrees (inside the working tree ...): the same
        team_budget(repo.config)  # a bad gitboard.budget.usd: the same
        root = repo.work_dir or repo.git_dir
        write_pid(repo, name, os.getpid())
    os.environ["GITBOARD_ACTOR"] = name
    try:
        if kind == "anthropic":
            from gitboard.llm.models import resolve_model

            model = resolve_model(model, cwd=root)
        teammate = Teammate(
            Settings(name=name, repo_path=root, role=role, prompt=prompt, model=model, poll=poll,
                     idle_timeout=idle_timeout, lease=lease, max_turns=max_turns, budget_usd=budget_usd,
                     budget_tokens=budget_tokens, stall_timeout=stall_timeout, plan_first=plan_first),
            agents.make(kind, agent_cmd, config), log=Logger(name, sys.stderr if json_ else sys.stdout))
        install_signal_handlers(teammate)
        code = teammate.run()
    finally:
        with open_repo() as repo:
            clear_pid(repo, name, os.getpid())
    if json_:
        emit(True, {"name": name, "exit": code}, lambda: None)
    raise typer.Exit(code)


def logs(
    name: str = NAME_ARG,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until the teammate exits."),
    json_: bool = JSON_OPT,
) -> None:
    """Show teammate NAME's log from this clone: one line per tool call or state change.

    The log names each worktree as it is made or reused; the first line printed says where
    NAME works now, if it has a worktree in this clone (with --json: "worktree").
    """
    from gitboard.runtime.process import log_path, show_log

    if json_ and follow:
        raise Invalid("--follow cannot be combined with --json")
    with open_repo() as repo:
        if not log_path(repo, name).exists():
            _no_log_here(repo, name)
        where = _current_worktree(repo, name)
        if json_:
            import io

            buf = io.StringIO()
            show_log(repo, name, buf)
            emit(True, {"name": name, "path": str(log_path(repo, name)), "text": buf.getvalue(),
                        "worktree": str(where) if where else None}, lambda: None)
            return
        if where is not None and log_path(repo, name).exists():
            sys.stdout.write(f"--- {name} works in {where}\n")
        try:
            show_log(repo, name, sys.stdout, follow=follow)
        except KeyboardInterrupt:
            pass


def _no_log_here(repo, name: str) -> None:
    """Raise NotFound for a teammate with no log in this clone: when the roster shows it started
    somewhere (a host or pid, not shutdown), say where it runs rather than advise spawning a
    second one here."""
    from gitboard.board.errors import BoardError, NotFound
    from gitboard.board.names import check_name
    from gitboard.store.read import read_board
    from gitboard.runtime.process import log_path

    check_name(name)
    try:
        member = read_board(repo).team.member(name)
    except BoardError:
        member = None
    if member is not None and member.status != "shutdown" and (member.host or member.pid is not None):
        where = f" on host {member.host}" if member.host else ""
        pid = f", pid {member.pid}" if member.pid is not None else ""
        raise NotFound(f"no log for {name} in this clone: the roster shows {name} {member.status}{where}{pid}; "
                       f"its log is in the clone that runs it (run 'gitboard logs {name}' there)")
    raise NotFound(f"no log for {name} in this clone ({log_path(repo, name)}); "
                   f"spawn it with 'gitboard spawn {name}'")


def _current_worktree(repo, name: str):
    """The worktree teammate ``name`` works in in this clone (from its roster entry), or None."""
    from gitboard.board.errors import BoardError
    from gitboard.store.read import read_board
    from gitboard.runtime.worktree import member_worktree

    try:
        member = read_board(repo, fresh=False).team.member(name)
    except BoardError:
        return None
    return member_worktree(repo, name, member.task) if member is not None else None


def demo(
    directory: Optional[str] = typer.Option(None, "--dir", metavar="DIR", help="Make the demo's directory under DIR (default: the system's temp directory)."),
    json_: bool = JSON_OPT,
) -> None:
    """Run the demo offline, with no key: two shell teammates work a board of dependent tasks.

    In a new temporary directory: a small project, a bare repository as the shared remote,
    and a board whose tasks have real run commands. The last line printed is the project's path.
    """
    from gitboard.cli.demo import run_demo

    doc = run_demo(parent=directory, json_mode=json_)
    if json_:
        emit(True, doc, lambda: None)
    if not doc.get("ok"):
        raise typer.Exit(1)
