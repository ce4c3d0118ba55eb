"""What a model call costs: Anthropic's prices per million tokens, and cost from a response's usage.

No anthropic import, no I/O except :func:`load_prices` (one ``git config`` read), so the
board commands (``gitboard cost``, ``watch``) can price a task result cheaply.

**Source.** Anthropic's published prices, read on 2026-12-01 from
https://platform.claude.com/docs/en/about-claude/pricing (the "Model pricing" table) and
the model overview pages under https://platform.claude.com/docs/en/models/ (their
"Pricing" sections). Claude Sonnet 5.5's cache reads are priced at $0.10 per million
tokens, the rate since Anthropic's cut of 2026-10-07 (its overview page read $0.20 before
that date). Prices are USD per million tokens (MTok) for the Claude API itself; Batch
API discounts and fast mode are not modelled.

Columns, as the pricing page names them: base input tokens (``input``), output tokens
(``output``), 5-minute cache writes (``cache_write``), 1-hour cache writes
(``cache_write_1h``), cache hits and refreshes (``cache_read``). A usage maps onto them as
``input_tokens``, ``output_tokens``, ``cache_creation_input_tokens`` (split into 5-minute
and 1-hour writes when ``usage.cache_creation`` gives ``ephemeral_5m_input_tokens`` /
``ephemeral_1h_input_tokens``) and ``cache_read_input_tokens``.

**Long prompts.** Some models charge more for a request whose prompt (input + cache reads
+ cache writes) is over a threshold: Claude Haiku 5.5 above 100,000 tokens, Claude Sonnet
4.5 and 4 above 200,000 (their 1M-context window). Such a request pays the higher rates on
all its tokens, output included, so price each response on its own (as
:func:`cost_usd` does) and sum the costs, not the usages.

**Overrides.** ``git config gitboard.price.<model> "<key>=<usd> ..."`` replaces a model's
prices, or prices a model the table does not know. Keys, separated by spaces or commas:
``input``, ``output`` (both required for a model not in the table), ``cache_write``,
``cache_write_1h``, ``cache_read``; values in USD per million tokens. A key left out keeps
the table's value, or for a new model follows Anthropic's standard multipliers of the
input price (cache_write 1.25x, cache_write_1h 2x, cache_read 0.1x). An override has no
long-prompt tier. Example::

    git config gitboard.price.claude-sonnet-5-5 "input=2 output=10 cache_write=2.5 cache_read=0.1"
    git config gitboard.price.my-proxy-model "input=1.5,output=7.5"

git lower-cases config key names, and the model id is matched case-insensitively.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

#: When the table was last checked against Anthropic's pricing page (ISO date).
PRICES_DATE = "2026-12-01"
#: Where the prices come from.
PRICES_SOURCE = "https://platform.claude.com/docs/en/about-claude/pricing"

#: Tokens per million: prices are per MTok.
MTOK = 1_000_000


@dataclass(frozen=True)
class Price:
    """One model's prices, in USD per million tokens.

    Attributes:
        input: base input tokens.
        output: output tokens.
        cache_write: 5-minute cache writes (``cache_creation_input_tokens``).
        cache_read: cache hits and refreshes (``cache_read_input_tokens``).
        cache_write_1h: 1-hour cache writes; None means 2x ``input``.
        long_threshold: prompt size (tokens) above which a request pays ``long`` instead.
        long: the prices for a request whose prompt is over ``long_threshold``.
    """

    input: float
    output: float
    cache_write: float
    cache_read: float
    cache_write_1h: float | None = None
    long_threshold: int | None = None
    long: "Price | None" = None

    def to_json(self) -> dict:
        """Return ``{"input", "output", "cache_write", "cache_write_1h", "cache_read"}`` (USD/MTok)."""
        return {"input": self.input, "output": self.output, "cache_write": self.cache_write,
                "cache_write_1h": self.cache_write_1h if self.cache_write_1h is not None else 2 * self.input,
                "cache_read": self.cache_read}


def _p(input: float, output: float, cache_write: float, cache_write_1h: float, cache_read: float,
       **long: Any) -> Price:
    return Price(input=input, output=output, cache_write=cache_write, cache_read=cache_read,
                 cache_write_1h=cache_write_1h, **long)


_OPUS_45 = _p(5, 25, 6.25, 10, 0.50)
_OPUS_4 = _p(15, 75, 18.75, 30, 1.50)
_SONNET_4 = _p(3, 15, 3.75, 6, 0.30, long_threshold=200_000, long=_p(6, 22.50, 7.50, 12, 0.60))

#: The price table: model id -> :class:`Price` (USD per million tokens; see the module
#: docstring for the source and date). Columns: input, output, 5m cache write, 1h cache
#: write, cache read.
PRICES: dict[str, Price] = {
    "claude-fable-5-1": _p(10, 50, 12.50, 20, 0.25),
    "claude-mythos-5-1": _p(10, 50, 12.50, 20, 0.25),
    "claude-fable-5": _p(10, 50, 12.50, 20, 1.00),
    "claude-mythos-5": _p(10, 50, 12.50, 20, 1.00),
    "claude-opus-5-5": _p(4, 20, 5, 8, 0.20),
    "claude-opus-5": _OPUS_45,
    "claude-opus-4-8": _OPUS_45,
    "claude-opus-4-7": _OPUS_45,
    "claude-opus-4-6": _OPUS_45,
    "claude-opus-4-5": _OPUS_45,
    "claude-opus-4-1": _OPUS_4,
    "claude-opus-4-0": _OPUS_4,
    "claude-opus-4": _OPUS_4,
    "claude-sonnet-5-5": _p(2, 10, 2.50, 4, 0.10),
    "claude-sonnet-5": _p(2, 10, 2.50, 4, 0.20),
    "claude-sonnet-4-6": _p(3, 15, 3.75, 6, 0.30),
    "claude-sonnet-4-5": _SONNET_4,
    "claude-sonnet-4-0": _SONNET_4,
    "claude-sonnet-4": _SONNET_4,
    "claude-haiku-5-5": _p(0.10, 0.50, 0.125, 0.20, 0.01,
                           long_threshold=100_000, long=_p(0.50, 2.50, 0.625, 1.00, 0.05)),
    "claude-haiku-4-5": _p(1, 5, 1.25, 2, 0.10),
}

#: Suffixes that name the same model: a snapshot date (``-20251001``), ``-latest``, the
#: 1M-context marker ``[1m]``; and the prefixes of cloud model ids (``anthropic.``, ``us.anthropic.``).
_SUFFIX = re.compile(r"(\[1m\]|-latest|-\d{8}|-v\d+(:\d+)?|@\d{8})$", re.IGNORECASE)
_PREFIX = re.compile(r"^(?:[a-z]{2,4}\.)?anthropic\.", re.IGNORECASE)

PRICE_KEYS = ("input", "output", "cache_write", "cache_write_1h", "cache_read")


def canonical_model(model: str) -> str:
    """Return the table key for a model id: lower-cased, without a date, ``-latest``, ``[1m]`` or cloud prefix.

    ``claude-haiku-4-5-20251001`` -> ``claude-haiku-4-5``; ``us.anthropic.claude-opus-4-7`` ->
    ``claude-opus-4-7``. Ids it does not recognise come back lower-cased.
    """
    name = _PREFIX.sub("", str(model).strip().lower())
    while True:
        stripped = _SUFFIX.sub("", name)
        if stripped == name:
            return name
        name = stripped


def price_for(model: str | None, prices: Mapping[str, Price] | None = None) -> Price | None:
    """Return the :class:`Price` of ``model`` from ``prices`` (default :data:`PRICES`), or None if unknown.

    The exact id (lower-cased) is tried first, then :func:`canonical_model`'s form.
    """
    if not model:
        return None
    table = PRICES if prices is None else prices
    key = str(model).strip().lower()
    return table.get(key) or table.get(canonical_model(key))


def _get(usage: Any, key: str) -> Any:
    if usage is None:
        return None
    return usage.get(key) if isinstance(usage, Mapping) else getattr(usage, key, None)


def _int(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def cost_usd(model: str | None, usage: Any, prices: Mapping[str, Price] | None = None) -> float | None:
    """Return what one response cost in USD, or None when ``model`` has no price.

    Args:
        model: the model id of the request (or the response's ``model``).
        usage: the response's ``usage`` (an SDK object or a dict; missing fields count 0).
            Summed usages price correctly except for long-prompt tiers (see the module docstring).
        prices: the table to use; default :data:`PRICES` (pass :func:`load_prices`'s result
            to honour ``git config gitboard.price.*``).

    Returns:
        ``(input*p.input + output*p.output + 5m writes*p.cache_write + 1h writes*p.cache_write_1h
        + cache reads*p.cache_read) / 1,000,000``.
    """
    price = price_for(model, prices)
    if price is None:
        return None
    inp = _int(_get(usage, "input_tokens"))
    out = _int(_get(usage, "output_tokens"))
    read = _int(_get(usage, "cache_read_input_tokens"))
    write = _int(_get(usage, "cache_creation_input_tokens"))
    detail = _get(usage, "cache_creation")
    write_1h = min(write, _int(_get(detail, "ephemeral_1h_input_tokens"))) if detail is not None else 0
    write_5m = write - write_1h
    if price.long is not None and price.long_threshold is not None and inp + read + write > price.long_threshold:
        price = price.long
    rate_1h = price.cache_write_1h if price.cache_write_1h is not None else 2 * price.input
    total = (inp * price.input + out * price.output + write_5m * price.cache_write
             + write_1h * rate_1h + read * price.cache_read)
    return total / MTOK


def parse_price(text: str, base: Price | None = None) -> Price:
    """Parse an override value, ``"input=2 output=10 cache_read=0.1"`` (USD per million tokens).

    Args:
        text: ``key=value`` pairs separated by spaces or commas; keys from :data:`PRICE_KEYS`.
        base: the table's price for the model, whose values fill in keys left out; None for
            a model the table lacks (then ``input`` and ``output`` are required).

    Returns:
        the :class:`Price`, without a long-prompt tier.

    Raises:
        ValueError: an unknown key, a value that is not a non-negative number, a pair
            without ``=``, or a missing ``input``/``output`` for a new model. The message
            names the offending part.
    """
    values: dict[str, float] = {}
    for part in re.split(r"[\s,]+", str(text).strip()):
        if not part:
            continue
        key, sep, raw = part.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep:
            raise ValueError(f"{part!r} is not key=value")
        if key not in PRICE_KEYS:
            raise ValueError(f"unknown price key {key!r} (use {', '.join(PRICE_KEYS)})")
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{key}={raw!r} is not a number") from None
        if not value >= 0 or value == float("inf"):
            raise ValueError(f"{key}={raw} must be a non-negative number")
        values[key] = value
    if not values:
        raise ValueError("no prices given")
    if base is None:
        missing = [k for k in ("input", "output") if k not in values]
        if missing:
            raise ValueError(f"a model not in the price table needs {' and '.join(missing)}")
        inp = values["input"]
        return Price(input=inp, output=values["output"], cache_write=values.get("cache_write", 1.25 * inp),
                     cache_read=values.get("cache_read", 0.1 * inp),
                     cache_write_1h=values.get("cache_write_1h", 2 * inp))
    return replace(base, long=None, long_threshold=None, **values)


def with_overrides(config: Mapping[str, str], prices: Mapping[str, Price] | None = None,
                   warn: Callable[[str], None] | None = None) -> dict[str, Price]:
    """Return a copy of the table with ``config``'s overrides applied (pure).

    Args:
        config: model id -> override value (the text after ``gitboard.price.<model>``).
        prices: the base table; default :data:`PRICES`.
        warn: called with one line per override that does not parse (it is skipped).
    """
    table = dict(PRICES if prices is None else prices)
    for model, text in config.items():
        key = str(model).strip().lower()
        try:
            table[key] = parse_price(text, price_for(key, table))
        except ValueError as e:
            if warn is not None:
                warn(f"git config gitboard.price.{key}: {e}; ignored")
    return table


def read_price_config(cwd: str | Path | None = None) -> dict[str, str]:
    """Return ``{model: value}`` from ``git config --get-regexp '^gitboard\\.price\\.'`` run in ``cwd``.

    Never raises: no git, no repository or no such keys give ``{}``.
    """
    try:
        proc = subprocess.run(["git", "config", "--get-regexp", r"^gitboard\.price\."], cwd=cwd,
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {}
    out: dict[str, str] = {}
    if proc.returncode != 0:
        return out
    for line in proc.stdout.splitlines():
        name, _, value = line.partition(" ")
        model = name[len("gitboard.price."):]
        if model:
            out[model] = value
    return out


def load_prices(cwd: str | Path | None = None, warn: Callable[[str], None] | None = None) -> dict[str, Price]:
    """Return :data:`PRICES` with the ``git config gitboard.price.<model>`` overrides of the repository at ``cwd``.

    Args:
        cwd: a directory of the repository (or a worktree of it); None: the current directory.
        warn: called with one line per override that does not parse.
    """
    return with_overrides(read_price_config(cwd), warn=warn)
