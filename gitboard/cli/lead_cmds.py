"""``gitboard lead``: the model-driven lead, as a REPL or one-shot (``-p PROMPT [--json]``).

Thin: the runtime is :mod:`gitboard.lead.session`, the loop :mod:`gitboard.cli.lead_repl`.
The SDK is imported only once the model is called, never on the board commands' path.
"""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from gitboard.board.errors import Invalid
from gitboard.board.text import safe, safe_json
from gitboard.cli.common import GLOBALS
from gitboard.llm.models import DEFAULT_MODEL  # the model's name in --help; no SDK import


def lead(
    prompt: Optional[str] = typer.Option(None, "-p", "--prompt", metavar="PROMPT", help="Run one prompt until the model stops, print its final text, and exit: 0 on end_turn, 1 on an API error (or another early stop), 130 on Ctrl-C."),
    json_: bool = typer.Option(False, "--json", help="With -p: print {\"text\", \"tool_calls\": [{\"name\", \"input\", \"is_error\"}], \"usage\", \"cost_usd\"}."),
    resume: bool = typer.Option(False, "--resume", help="Continue the saved conversation (<git-common-dir>/gitboard/lead/session.json)."),
    model: Optional[str] = typer.Option(None, "--model", metavar="M", help=f"Model. Default: git config gitboard.model, else $GITBOARD_MODEL, else {DEFAULT_MODEL}."),
    max_turns: int = typer.Option(50, "--max-turns", metavar="N", min=1, help="Model turns one prompt may take."),
) -> int:
    """The lead as a model: a REPL ('gitboard lead >> ') whose prompts run the Messages API
    tool-use loop over the board, review and workspace tools, as actor 'lead'.

    Slash commands: /tasks /team /inbox /review /cost /help /quit.

    Needs ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN); without one it exits 2.
    """
    from gitboard.llm import conversation

    if json_ and prompt is None:
        raise Invalid("--json needs -p PROMPT")
    if not conversation.has_credentials():
        raise Invalid("gitboard lead needs an API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN)")
    from gitboard.lead.session import LeadSession

    if prompt is None:
        from gitboard.cli.lead_repl import Repl

        session = LeadSession(GLOBALS.repo_dir, model=model, resume=resume, max_turns=max_turns)
        return Repl(session).run()
    log = (lambda line: None) if json_ else (lambda line: sys.stderr.write(f"  · {safe(line)}\n"))
    # the model's words before each round of tool calls go with the progress lines (stderr):
    # stdout is the final reply alone, for scripts
    steps = (lambda kind, value: None) if json_ else \
        (lambda kind, value: sys.stderr.write(f"  · {safe(value, multiline=True)}\n") if kind == "text" else None)
    session = LeadSession(GLOBALS.repo_dir, model=model, resume=resume, max_turns=max_turns, log=log, on_step=steps)
    result = session.turn(prompt)
    if json_:
        sys.stdout.write(safe_json(json.dumps(result.to_json(), ensure_ascii=False)) + "\n")
    elif result.text:
        sys.stdout.write(safe(result.text, multiline=True) + "\n")
    if not json_:
        from gitboard.cli.lead_repl import usage_line

        sys.stderr.write(f"gitboard: lead: {usage_line(result, session)}\n")
    if result.error:
        sys.stderr.write(f"gitboard: error: {safe(result.error)}\n")
    if result.stop_reason == "cancelled":
        return 130
    return 0 if result.ok else 1
