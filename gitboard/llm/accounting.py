"""Usage, cost and budgets of a conversation with the model, shared by the anthropic agent and the lead.

A :class:`Meter` adds up every response of one conversation (model turns and compaction
summaries alike): the tokens as :class:`Usage`, the cost in USD
priced per response with :func:`gitboard.llm.pricing.cost_usd`, and the models that
answered. :class:`Budget` says when the total reaches a limit.

Pure: no anthropic import, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from gitboard.llm import pricing

@dataclass
class Usage:
    """Token usage summed over a task's model calls, as the Messages API reports it (tokens)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    def add(self, usage: Any) -> None:
        """Add an API ``usage`` object (or dict); missing or None fields count as 0."""
        get = usage.get if isinstance(usage, dict) else (lambda k, d=None: getattr(usage, k, d))
        for k in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            setattr(self, k, getattr(self, k) + int(get(k, 0) or 0))

    def to_json(self) -> dict:
        """Return ``{"input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"}``."""
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cache_read_input_tokens": self.cache_read_input_tokens,
                "cache_creation_input_tokens": self.cache_creation_input_tokens}


#: Fewest output tokens a turn may be given under a budget: a turn that can afford fewer
#: is not taken, and the work ends on the budget.
MIN_TURN_OUTPUT = 256


def total_tokens(usage: Usage) -> int:
    """Return every token a usage counts: input + output + cache reads + cache writes."""
    return (usage.input_tokens + usage.output_tokens + usage.cache_read_input_tokens
            + usage.cache_creation_input_tokens)


@dataclass
class Meter:
    """The running totals of one conversation.

    Attributes:
        prices: the price table (:func:`gitboard.llm.pricing.load_prices`); None: the built-in table.
        usage: tokens summed over every response.
        priced_usd: the USD cost of the responses whose model has a price.
        unpriced: models that answered but have no price (their tokens are in ``usage``).
        models: the models that answered, in order of first answer.
        responses: how many responses were added.
        unpriced_responses: how many responses came from a model without a price.
        last_prompt: the prompt size of the last response (input + cache reads + cache
            writes, tokens): what the next request re-reads at least.
        last_prompt_usd: what that prompt cost (its input, cache reads and cache writes at
            their prices; 0.0 if unpriced): the estimate of the next prompt's cost.
    """

    prices: Mapping[str, pricing.Price] | None = None
    usage: Usage = field(default_factory=Usage)
    priced_usd: float = 0.0
    unpriced: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    responses: int = 0
    unpriced_responses: int = 0
    last_prompt: int = 0
    last_prompt_usd: float = 0.0

    def add(self, model: str | None, usage: Any) -> float | None:
        """Add one response's ``usage`` (SDK object or dict) from ``model``; return its cost in USD, or None if unpriced."""
        self.usage.add(usage)
        self.responses += 1
        one = Usage()
        one.add(usage)
        self.last_prompt = one.input_tokens + one.cache_read_input_tokens + one.cache_creation_input_tokens
        prompt_only = {**one.to_json(), "output_tokens": 0}
        detail = usage.get("cache_creation") if isinstance(usage, Mapping) else getattr(usage, "cache_creation", None)
        if detail is not None:
            prompt_only["cache_creation"] = detail
        self.last_prompt_usd = pricing.cost_usd(str(model or ""), prompt_only, self.prices) or 0.0
        name = str(model or "")
        if name and name not in self.models:
            self.models.append(name)
        cost = pricing.cost_usd(name, usage, self.prices)
        if cost is None:
            self.unpriced_responses += 1
            if name not in self.unpriced:
                self.unpriced.append(name)
        else:
            self.priced_usd += cost
        return cost

    @property
    def cost_usd(self) -> float | None:
        """The total cost in USD, rounded to 6 places; None if any response came from a model without a price
        (a partial figure would understate it), or if nothing was added."""
        if self.unpriced or not self.responses:
            return None
        return round(self.priced_usd, 6)

    def mark(self) -> tuple[Usage, float, int]:
        """Return a mark of the totals now, for :meth:`since`."""
        usage = Usage()
        usage.add(self.usage.to_json())
        return usage, self.priced_usd, self.unpriced_responses

    def since(self, mark: tuple[Usage, float, int]) -> tuple[Usage, float | None]:
        """Return ``(usage, cost_usd)`` added since ``mark``; the cost is None if an unpriced model answered since."""
        usage, usd, unpriced = mark
        delta = Usage()
        delta.add({k: v - getattr(usage, k) for k, v in self.usage.to_json().items()})
        return delta, (round(self.priced_usd - usd, 6) if self.unpriced_responses == unpriced else None)

    @property
    def tokens(self) -> int:
        """Every token counted so far (see :func:`total_tokens`)."""
        return total_tokens(self.usage)

    def line(self) -> str:
        """Return a one-line account: ``12,345 tokens (in 1,000, out 200, cache read 11,000, cache write 145), $0.0123``."""
        u = self.usage
        cost = self.cost_usd
        money = f"${cost:.4f}" if cost is not None else "cost unknown (no price for " + ", ".join(self.unpriced) + ")"
        if not self.responses:
            money = "$0.0000"
        return (f"{self.tokens:,} tokens (in {u.input_tokens:,}, out {u.output_tokens:,}, cache read "
                f"{u.cache_read_input_tokens:,}, cache write {u.cache_creation_input_tokens:,}), {money}")

    def to_json(self) -> dict:
        """Return ``{"usage": {...}, "cost_usd": float|None, "models": [...]}``."""
        return {"usage": self.usage.to_json(), "cost_usd": self.cost_usd, "models": list(self.models)}


@dataclass(frozen=True)
class Budget:
    """A limit on a conversation's spending: ``usd`` (USD) and/or ``tokens`` (all four kinds summed).

    None for either means no limit of that kind.
    """

    usd: float | None = None
    tokens: int | None = None

    def __bool__(self) -> bool:
        return self.usd is not None or self.tokens is not None

    def reached(self, meter: Meter) -> str | None:
        """Return why the budget is used up (the Outcome reason, starting with ``budget``), or None.

        The USD limit counts the priced responses only (see :meth:`unenforceable`).
        """
        if self.tokens is not None and meter.tokens >= self.tokens:
            return (f"budget reached: {meter.tokens:,} tokens used of the {self.tokens:,}-token budget "
                    f"({meter.line()})")
        if self.usd is not None and meter.priced_usd >= self.usd:
            return f"budget reached: ${meter.priced_usd:.4f} spent of the ${self.usd:.4f} budget ({meter.line()})"
        return None

    def unenforceable(self, model: str, prices: Mapping[str, pricing.Price] | None) -> str | None:
        """Return why a USD limit cannot be kept for ``model`` (it has no price), or None."""
        if self.usd is not None and pricing.price_for(model, prices) is None:
            return (f"budget: cannot keep the ${self.usd} budget: model {model!r} has no price "
                    f"(set git config gitboard.price.{model} \"input=<usd/MTok> output=<usd/MTok>\")")
        return None

    def max_output(self, meter: Meter, model: str, prices: Mapping[str, pricing.Price] | None,
                   prompt_tokens: int | None = None) -> int | None:
        """Return the most output tokens the next request can afford, or None if unlimited.

        Args:
            meter: the totals so far.
            model: the next request's model.
            prices: the price table.
            prompt_tokens: the expected prompt size of the next request (tokens); default
                ``meter.last_prompt``, costed as the last prompt was (``meter.last_prompt_usd``:
                its own mix of input, cache reads and cache writes); a number given here is
                costed at the input price.

        Returns:
            the affordable output tokens (0 or less: the next turn alone would pass the
            budget); the caller clamps its ``max_tokens`` to it, so one reply cannot go
            far past the budget.
        """
        price = pricing.price_for(model, prices)
        if prompt_tokens is None:
            prompt_tokens, prompt_usd = meter.last_prompt, meter.last_prompt_usd
        else:
            prompt_usd = prompt_tokens * price.input / pricing.MTOK if price is not None else 0.0
        limits: list[int] = []
        if self.tokens is not None:
            limits.append(self.tokens - meter.tokens - prompt_tokens)
        if self.usd is not None and price is not None and price.output > 0:
            left = self.usd - meter.priced_usd - prompt_usd
            limits.append(int(left * pricing.MTOK / price.output))
        return min(limits) if limits else None

    def before_turn(self, meter: Meter, model: str, max_tokens: int) -> tuple[int, str | None]:
        """Decide the next model turn: ``(max_tokens for it, None)``, or ``(0, reason)`` to stop on the budget.

        Stops when the model has no price for a USD limit, when the budget is reached, or
        when the turn could afford fewer than :data:`MIN_TURN_OUTPUT` output tokens. The
        reason starts with ``budget``.
        """
        if not self:
            return max_tokens, None
        reason = self.unenforceable(model, meter.prices) or self.reached(meter)
        if reason:
            return 0, reason
        cap = self.max_output(meter, model, meter.prices)
        if cap is not None and cap < MIN_TURN_OUTPUT:
            return 0, f"budget reached: the next turn would pass it ({meter.line()})"
        return (min(max_tokens, cap) if cap is not None else max_tokens), None
