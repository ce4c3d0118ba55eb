"""The model an agent CLI's command line asks for, for a result when the CLI's output names none.

Codex (``codex exec --json``) prints no model, so a run whose model was chosen on its
command line -- gitboard's ``--model`` (the profile's ``model_args``) or the user's own
``extra-args`` in git config -- would record no model, and its cost could not be priced or
grouped. :func:`model_in_argv` reads the model back from the arguments, as the CLI would:

- ``--model NAME`` and ``--model=NAME`` (every preset);
- codex also: ``-m NAME`` and its ``-c``/``--config`` overrides ``model=NAME``, where the
  value is TOML (``model="gpt-5"`` or a bare ``model=gpt-5``), as ``codex exec --help``
  (codex-cli 0.171) documents. aider's ``-m`` is ``--message``, so it is read for codex only.

The last one given wins, as it does for the CLIs.
"""

from __future__ import annotations

from typing import Sequence

#: Agent -> the short options taking a model, besides ``--model``.
SHORT_MODEL_OPTIONS: dict[str, tuple[str, ...]] = {"codex": ("-m",)}
#: Agent -> the options taking ``KEY=VALUE`` (TOML) config overrides, where ``model`` sets the model.
CONFIG_OPTIONS: dict[str, tuple[str, ...]] = {"codex": ("-c", "--config")}


def _toml_string(value: str) -> str:
    """A TOML string value without its quotes (``"gpt-5"`` or ``'gpt-5'``), or a bare word as it is."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def model_in_argv(agent: str, argv: Sequence[str]) -> str | None:
    """The model the arguments ``argv`` (without the program) of agent CLI ``agent`` choose,
    the last one given; None when they choose none."""
    short = SHORT_MODEL_OPTIONS.get(agent, ())
    config = CONFIG_OPTIONS.get(agent, ())
    found: str | None = None
    words = list(argv)
    i = 0
    while i < len(words):
        w = words[i]
        value: str | None = None
        if w == "--model" or w in short:
            value = words[i + 1] if i + 1 < len(words) else None
            i += 1
        elif w.startswith("--model="):
            value = w.split("=", 1)[1]
        elif w in config or any(w.startswith(c + "=") for c in config if c.startswith("--")):
            setting = w.split("=", 1)[1] if w.startswith("--") and "=" in w else \
                (words[i + 1] if i + 1 < len(words) else "")
            if not (w.startswith("--") and "=" in w):
                i += 1
            key, eq, raw = setting.partition("=")
            if eq and key.strip() == "model":
                value = _toml_string(raw)
        elif w == "--":
            break
        if value:
            found = value
        i += 1
    return found
