"""The agent CLI presets at work: ``--agent claude``, ``codex``, ``aider`` (and profiles from git config).

:class:`CliAgent` runs one :class:`~gitboard.agents.presets.Profile` in the task's worktree
(through :func:`gitboard.agents.command.run_command`: its own process group, the inbox read
while it runs, output to the log) and reads its output with the profile's reader
(:mod:`gitboard.agents.output`). The prompt is :func:`gitboard.agents.exec.build_prompt`'s.

How a run ends (the Outcome):

- **completed** -- exit 0 and no error result: the CLI's final result text is the summary;
  ``usage``, ``cost_usd`` (the CLI's own figure where it reports one, else priced from the
  usage with :mod:`gitboard.llm.pricing`), ``models``, ``num_turns`` and ``session_id`` go
  in the task result, with ``agent`` (the profile's name);
- **failed with the CLI's message** -- an error result (``is_error``, a subtype other than
  ``success``, a ``turn.failed``), a non-zero exit, or a run that changed nothing in the
  worktree while the CLI's permission rules denied tool calls (``permission_denials``);
- **failed on the budget** -- ``ctx.budget_usd``/``ctx.budget_tokens``: passed to the CLI
  where it has a limit of its own (Claude Code's ``--max-budget-usd``), and the CLI is
  stopped as soon as its streamed usage passes either (the USD figure priced from the
  streamed tokens; for a CLI that keeps its own USD limit, only at :data:`BACKSTOP` times
  it); the reason starts with ``budget``.
  The harness commits the work so far either way.

gitboard's MCP server: a profile with ``mcp`` (Claude Code, Codex) runs with the server
wired in (:mod:`gitboard.mcp.config`), acting as the teammate on its task, and the prompt
lists the tools. ``done_task``/``fail_task`` on the task are the agent's verdict: after the
run, a ``fail_task`` fails the task with its note as the reason, and a ``done_task`` note
becomes the summary (the harness commits, pushes and marks the task as ever); a shutdown
request the agent approved through ``answer_shutdown`` stops the teammate as one the runtime
approved would. With
``--plan-first`` (``ctx.plan_first``) the prompt asks for a plan through ``submit_plan``
before any change, and a run that ends without a plan the lead approved fails the task.

Sessions: the session id a CLI reports is kept in ``<state_dir>/sessions/task-<id>.json``
as soon as it is seen, with the usage and cost of runs that were stopped (a stall, a
shutdown: a release records no result), which the run that finishes the task in this
clone adds to its result. When a takeover, a restart or a rework continues a task this clone
ran before (that file, or the task result's ``session_id`` from the same agent), the run
continues that session (Claude Code ``--resume <session_id>``); if the CLI cannot find it
(another machine, another worktree path), the task starts a new session.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gitboard.mcp import config as mcp_config
from gitboard.store import git as gitcmd
from gitboard.agents.argv_model import model_in_argv
from gitboard.agents import output as cli_output
from gitboard.llm import pricing
from gitboard.agents.base import Agent, AgentContext, Outcome, Usage
from gitboard.agents.command import CommandResult, describe_exit, run_command, tail_lines
from gitboard.agents.exec import build_prompt
from gitboard.agents.presets import Profile

#: How far past a USD budget a CLI that enforces it itself may go before gitboard stops it.
BACKSTOP = 1.5
#: Phrases with which a CLI says that the session to resume does not exist here.
MISSING_SESSION = ("no conversation found", "session not found", "no session found", "could not find session",
                   "no rollout found")  # Claude Code 2.1; codex-cli 0.171


def session_file(state_dir: Path, task_id: int) -> Path:
    """Return ``<state_dir>/sessions/task-<id>.json``: ``{"agent", "session_id"}`` of the task's last run here."""
    return Path(state_dir) / "sessions" / f"task-{task_id}.json"


def previous_session(ctx: AgentContext, agent: str) -> str | None:
    """Return the session id of ``agent``'s earlier run on ``ctx.task`` (this clone's record, else the
    task result's ``session_id`` when the result came from ``agent``), or None."""
    task_id = (ctx.task or {}).get("id")
    if not task_id:
        return None
    try:
        doc = json.loads(session_file(ctx.state_dir, task_id).read_text())
        if doc.get("agent") == agent and isinstance(doc.get("session_id"), str) and doc["session_id"]:
            return doc["session_id"]
    except (OSError, ValueError, AttributeError):
        pass
    result = (ctx.task or {}).get("result")
    if isinstance(result, dict) and result.get("agent") == agent and isinstance(result.get("session_id"), str):
        return result["session_id"] or None
    return None


def _read_record(ctx: AgentContext) -> dict:
    task_id = (ctx.task or {}).get("id")
    if not task_id:
        return {}
    try:
        doc = json.loads(session_file(ctx.state_dir, task_id).read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _write_record(ctx: AgentContext, doc: dict) -> None:
    task_id = (ctx.task or {}).get("id")
    if not task_id:
        return
    path = session_file(ctx.state_dir, task_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(doc) + "\n")
        os.replace(tmp, path)
    except OSError:
        pass


def _save_session(ctx: AgentContext, agent: str, session_id: str) -> None:
    doc = _read_record(ctx)
    if doc.get("agent") != agent:
        doc = {}
    _write_record(ctx, {**doc, "agent": agent, "session_id": session_id})


def _carry(ctx: AgentContext, agent: str, outcome: Outcome) -> Outcome:
    """Account for runs of this task that ended without a result on the board.

    A run that was stopped (a stall, a shutdown, a signal) releases its task, and a release
    records no result, so its usage and cost are kept in the session record ("carried") and
    added to the result of the run that finishes the task in this clone.
    """
    doc = _read_record(ctx)
    if doc.get("agent") != agent:
        doc = {"agent": agent}
    carried = Usage()
    carried.add(doc.get("carried_usage") or {})
    carried_cost = float(doc.get("carried_cost_usd") or 0.0)
    known = bool(doc.get("carried_cost_known", True))
    cost = outcome.details.get("cost_usd")
    if outcome.shutdown or outcome.reason.startswith(("stopped", "stalled")):
        carried.add(outcome.usage.to_json())
        _write_record(ctx, {**doc, "carried_usage": carried.to_json(),
                            "carried_cost_usd": round(carried_cost + (cost or 0.0), 6),
                            "carried_cost_known": known and cost is not None})
        return outcome
    if sum(carried.to_json().values()):
        outcome.usage.add(carried.to_json())
        if cost is not None:
            outcome.details["cost_usd"] = round(cost + carried_cost, 6) if known else None
        for key in ("carried_usage", "carried_cost_usd", "carried_cost_known"):
            doc.pop(key, None)
        _write_record(ctx, doc)
    return outcome


def _approved_on_board(ctx: AgentContext) -> bool:
    """True if the board holds a plan of ``ctx.name`` that the lead approved since the task was
    claimed (a run that continues a session whose plan an earlier run had approved)."""
    from gitboard.board.request import PLAN, requests_of

    since = str((ctx.task or {}).get("claimed_at") or "")
    try:
        board = ctx.port.board()  # type: ignore[attr-defined]
    except Exception:  # no board to ask (a test double, an outage): the run's own record decides
        return False
    return any(r.from_ == ctx.name and r.status == "approved" and r.created_at >= since
               for r in requests_of(board, PLAN))


def _snapshot(worktree: Path) -> str:
    """HEAD and ``git status`` of the worktree: what "changed nothing" compares."""
    head = gitcmd.run(str(worktree), ["rev-parse", "-q", "--verify", "HEAD"], check=False)
    status = gitcmd.run(str(worktree), ["status", "--porcelain=v1", "-uall", "-z"], check=False)
    return head.stdout.decode(errors="replace") + "\0" + status.stdout.decode(errors="replace")


def _money(x: float) -> str:
    return f"${x:.4f}"


class CliAgent(Agent):
    """Runs an agent CLI profile; see the module docstring.

    Args:
        profile: the preset (with its git config overrides) or a profile from git config.
        timeout: seconds a run may last (None: ``GITBOARD_COMMAND_TIMEOUT`` or 3600).
    """

    #: Messages that arrive while idle start a session of the CLI with them in its prompt.
    handles_messages = True

    def __init__(self, profile: Profile, timeout: float | None = None) -> None:
        self.profile = profile
        self.name = profile.name
        self.timeout = timeout

    def accepts(self, task: dict) -> bool:
        """True: an agent CLI can attempt any task."""
        return True

    def run(self, ctx: AgentContext) -> Outcome:
        """Run the CLI on the task; see the module docstring. Never raises for the CLI's failure."""
        session = previous_session(ctx, self.name)
        if session:
            ctx.port.log(f"{self.name}: continuing session {session} of an earlier run on this task")
        outcome, missing = self._attempt(ctx, session)
        if missing:
            ctx.port.log(f"{self.name}: session {session} is not on this machine; starting a new session")
            outcome, _ = self._attempt(ctx, None)
        return _carry(ctx, self.name, outcome)

    # -- one run ---------------------------------------------------------------------
    def _attempt(self, ctx: AgentContext, session: str | None) -> tuple[Outcome, bool]:
        """Run once; returns ``(outcome, the session to resume was missing)``."""
        prof = self.profile
        tmp_root = Path(ctx.state_dir) / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"{self.name}-task-{(ctx.task or {}).get('id') or 0}-", dir=tmp_root))
        try:
            task_id = (ctx.task or {}).get("id") or None
            wiring = mcp_config.wire(prof.mcp, repo_dir=ctx.worktree, actor=ctx.name, task=task_id,
                                     scratch=scratch, env=os.environ, task_env=ctx.env,
                                     lease=ctx.port.lease)
            prompt = build_prompt(ctx) + mcp_config.prompt_text(wiring, task=task_id, plan_first=ctx.plan_first) \
                + f"\nFile paths you give to tools are absolute paths inside {ctx.worktree}.\n"
            values = {"worktree": str(ctx.worktree), "prompt": prompt, "scratch": str(scratch),
                      "prompt_file": str(scratch / "prompt.md")}
            if prof.prompt == "file":
                (scratch / "prompt.md").write_text(prompt)
            argv = prof.argv(values, session_id=session, budget_usd=ctx.budget_usd, model=ctx.model)
            argv[len(prof.program):len(prof.program)] = wiring.args
            reader = cli_output.reader(prof.output)
            saved = [session]
            prices = pricing.load_prices(ctx.worktree) if ctx.budget_usd is not None else None

            def on_line(line: str) -> list[str]:
                shown = reader.feed(line)
                sid = reader.report.session_id
                if sid and sid != saved[0]:
                    saved[0] = sid
                    _save_session(ctx, self.name, sid)
                return shown

            def over_budget() -> str | None:
                return self._over_budget(ctx, reader.report, prices)

            before = _snapshot(ctx.worktree)
            res = run_command(ctx, argv, stdin_text=prompt if prof.prompt == "stdin" else None,
                              timeout=self.timeout, label=self.name, on_line=on_line, stop_when=over_budget,
                              env=wiring.env)
            report = reader.finish()
            if not report.models:  # a CLI that prints no model (codex): the one its command line chose
                chosen = model_in_argv(self.name, argv[len(prof.program):])
                if chosen:
                    report.models.append(chosen)
            verdict = mcp_config.read_report(wiring.report) if wiring.report else {}
            if session and res.exit_code not in (0, None) and not report.usage.input_tokens \
                    and any(p in (report.error + res.tail).lower() for p in MISSING_SESSION):
                return Outcome(ok=False), True
            changed = _snapshot(ctx.worktree) != before
            return self._verdict(ctx, self._outcome(ctx, res, report, changed), verdict), False
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _verdict(self, ctx: AgentContext, outcome: Outcome, verdict: dict) -> Outcome:
        """Apply what the agent said through gitboard's MCP server (:func:`gitboard.mcp.config.read_report`)
        to a run that succeeded: its ``fail_task`` fails the task, its ``done_task`` note is the
        summary; with ``ctx.plan_first``, no approved plan fails it."""
        ctx.port.note_delivered(str(i) for i in verdict.get("answered") or [])
        stop = verdict.get("shutdown") if isinstance(verdict.get("shutdown"), dict) else None
        if stop and stop.get("approve"):  # the agent approved a shutdown_request through the server
            ctx.port.log(f"{self.name}: the agent approved shutdown request {stop.get('request_id')}")
            ctx.port.shutdown_approved = True
            outcome.shutdown = True
        if not outcome.ok or outcome.shutdown:
            return outcome
        plan = verdict.get("plan") if isinstance(verdict.get("plan"), dict) else None
        if plan:
            outcome.details["plan_request"] = plan.get("request_id")
        if ctx.plan_first and (ctx.task or {}).get("id") and (plan or {}).get("status") != "approved" \
                and not _approved_on_board(ctx):
            last = f"the last answer was {plan.get('status')}" if plan else "no plan was submitted"
            ctx.port.log(f"{self.name}: --plan-first and no approved plan ({last}): failing the task")
            return Outcome(ok=False, summary=outcome.summary, usage=outcome.usage, details=outcome.details,
                           reason=f"plan first: the work ended without a plan the lead approved ({last})")
        done = verdict.get("done") if isinstance(verdict.get("done"), dict) else None
        if done is None:
            return outcome
        note = str(done.get("note") or "")
        if not done.get("ok"):
            ctx.port.log(f"{self.name}: the agent failed the task: {note}")
            return Outcome(ok=False, summary=outcome.summary, usage=outcome.usage, details=outcome.details,
                           reason=f"{self.name}: " + (note or "the agent failed the task (fail_task)"))
        if note:
            outcome.details["note"] = note
            outcome.summary = note
        return outcome

    def _over_budget(self, ctx: AgentContext, report: cli_output.Report, prices: Any) -> str | None:
        """Why the streamed usage passes the task's budget (starts with ``budget``), or None."""
        if ctx.budget_tokens is not None and report.tokens > ctx.budget_tokens:
            return (f"budget: {self.name} used {report.tokens:,} tokens, past the task's "
                    f"{ctx.budget_tokens:,}-token budget")
        if ctx.budget_usd is not None:
            spent = report.cost_usd if report.cost_usd is not None else self._priced(report, prices)
            # a CLI that keeps the USD limit itself (its own cost wins) is stopped from here only
            # as a backstop, if it overshoots by half
            limit = ctx.budget_usd * (BACKSTOP if self.profile.budget_args else 1.0)
            if spent is not None and spent > limit:
                return f"budget: {self.name} spent {_money(spent)}, past the task's {_money(ctx.budget_usd)} budget"
        return None

    @staticmethod
    def _priced(report: cli_output.Report, prices: Any) -> float | None:
        """The usage priced with the price table, when one model answered and it has a price; else None."""
        if len(report.models) != 1:
            return None
        return pricing.cost_usd(report.models[0], report.usage.to_json(), prices)

    def _outcome(self, ctx: AgentContext, res: CommandResult, report: cli_output.Report, changed: bool) -> Outcome:
        prof = self.profile
        how = describe_exit(res)
        cost = report.cost_usd
        if cost is None and report.usage.input_tokens + report.usage.output_tokens:
            cost = self._priced(report, pricing.load_prices(ctx.worktree))
        details: dict[str, Any] = {"agent": self.name, "cost_usd": cost, "models": list(report.models),
                                   "num_turns": report.num_turns, "session_id": report.session_id,
                                   "exit_code": res.exit_code}
        if ctx.budget_usd is not None and cost is None and not self.profile.budget_args:
            ctx.port.log(f"budget: cannot check the {_money(ctx.budget_usd)} budget: {self.name} reported no cost "
                         f"and its model ({', '.join(report.models) or 'unknown'}) has no price (git config "
                         f"gitboard.price.<model>); --budget-tokens works without one")
        ctx.port.log(f"{self.name}: {how}; {report.tokens:,} tokens"
                     + (f", {_money(cost)}" if cost is not None else "")
                     + (f", session {report.session_id}" if report.session_id else ""))
        tail = tail_lines(res.tail)

        def fail(reason: str, **more: Any) -> Outcome:
            return Outcome(ok=False, summary=report.summary, usage=report.usage, reason=reason,
                           details={**details, "output_tail": res.tail, **more})

        if res.error:
            return fail(f"{self.name}: {res.error} (is it installed? git config gitboard.agent.{self.name}.program "
                        f"names the program)")
        if res.shutdown or res.stopped:
            return Outcome(ok=False, summary=report.summary, usage=report.usage, shutdown=res.shutdown,
                           reason=f"stopped ({how})", details=details)
        if res.stop_reason:
            return fail(res.stop_reason)
        if res.timed_out:
            return fail(f"{self.name} {how}" + (f": {report.summary or tail}" if (report.summary or tail) else ""))
        if report.error:
            if "budget" in report.subtype:
                limit = f" of {_money(ctx.budget_usd)}" if ctx.budget_usd is not None else ""
                return fail(f"budget: {self.name} stopped at its budget{limit} ({report.subtype}): {report.error}")
            return fail(f"{self.name}: {report.error}")
        if res.exit_code != 0:
            return fail(f"{self.name} {how}" + (f": {tail}" if tail else ""))
        if report.denials and not changed:
            tools = sorted({str(d.get("tool_name")) for d in report.denials})
            mode = f" (permission mode {prof.permission_mode})" if prof.permission_mode else ""
            said = report.tool_errors[0] if report.tool_errors else ""
            return fail(f"{self.name} changed nothing: {len(report.denials)} tool call(s) denied{mode}: "
                        f"{', '.join(tools)}" + (f": {said}" if said else "")
                        + (f"; its result: {report.summary}" if report.summary else ""),
                        permission_denials=report.denials)
        return Outcome(ok=True, summary=report.summary or f"{self.name} {how}", usage=report.usage, details=details)
