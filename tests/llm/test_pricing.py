"""The price table, cost from usage, and git config overrides (real git repositories)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitboard.llm import pricing
from gitboard.llm.accounting import Budget, Meter
from gitboard.llm.models import DEFAULT_MODEL


def test_the_default_model_has_a_price() -> None:
    assert pricing.price_for(DEFAULT_MODEL) is not None


def test_cost_of_one_response_uses_all_four_rates() -> None:
    usage = {"input_tokens": 1_000_000, "output_tokens": 1_000_000,
             "cache_creation_input_tokens": 1_000_000, "cache_read_input_tokens": 1_000_000}
    # Sonnet 5.5: $2 in, $10 out, $2.50 5m write, $0.10 read
    assert pricing.cost_usd("claude-sonnet-5-5", usage) == pytest.approx(2 + 10 + 2.5 + 0.1)
    # Opus 4.5: $5 / $25 / $6.25 / $0.50
    assert pricing.cost_usd("claude-opus-4-5-20251101", usage) == pytest.approx(5 + 25 + 6.25 + 0.5)


def test_one_hour_cache_writes_are_priced_apart() -> None:
    usage = {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 3_000_000,
             "cache_creation": {"ephemeral_5m_input_tokens": 1_000_000, "ephemeral_1h_input_tokens": 2_000_000}}
    assert pricing.cost_usd("claude-sonnet-5-5", usage) == pytest.approx(2.5 + 2 * 4)


def test_haiku_5_5_long_prompts_pay_the_higher_rates_on_every_token() -> None:
    short = {"input_tokens": 50_000, "output_tokens": 1_000, "cache_read_input_tokens": 50_000}
    long = {"input_tokens": 50_001, "output_tokens": 1_000, "cache_read_input_tokens": 50_000}
    assert pricing.cost_usd("claude-haiku-5-5", short) == pytest.approx((50_000 * 0.10 + 1_000 * 0.50
                                                                         + 50_000 * 0.01) / 1e6)
    assert pricing.cost_usd("claude-haiku-5-5", long) == pytest.approx((50_001 * 0.50 + 1_000 * 2.50
                                                                        + 50_000 * 0.05) / 1e6)


@pytest.mark.parametrize("model,key", [
    ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ("us.anthropic.claude-opus-4-7", "claude-opus-4-7"),
    ("anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
    ("claude-sonnet-5-5[1m]", "claude-sonnet-5-5"),
    ("Claude-Sonnet-5", "claude-sonnet-5"),
])
def test_model_ids_with_dates_and_cloud_prefixes_find_their_price(model: str, key: str) -> None:
    assert pricing.canonical_model(model) == key
    assert pricing.price_for(model) is pricing.PRICES[key]


def test_unknown_model_costs_none_and_sonnet_5_is_not_sonnet_5_5() -> None:
    assert pricing.cost_usd("claude-test-model", {"input_tokens": 5}) is None
    assert pricing.cost_usd(None, {"input_tokens": 5}) is None
    assert pricing.price_for("claude-sonnet-5").cache_read == 0.20
    assert pricing.price_for("claude-sonnet-5-5").cache_read == 0.10


def test_parse_price_and_its_errors() -> None:
    base = pricing.PRICES["claude-sonnet-5-5"]
    p = pricing.parse_price("input=1, output=4", base)
    assert (p.input, p.output, p.cache_write, p.cache_read) == (1, 4, 2.5, 0.1)
    new = pricing.parse_price("input=2 output=8")
    assert (new.cache_write, new.cache_write_1h, new.cache_read) == pytest.approx((2.5, 4, 0.2))
    for bad, msg in [("input=x", "not a number"), ("inputs=1 output=2", "unknown price key"),
                     ("input", "not key=value"), ("output=2", "needs input"), ("", "no prices"),
                     ("input=-1 output=2", "non-negative")]:
        with pytest.raises(ValueError, match=msg):
            pricing.parse_price(bad)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_git_config_overrides_a_price_and_adds_a_model(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    _git(tmp_path, "init", "-q", str(repo))
    _git(repo, "config", "gitboard.price.claude-sonnet-5-5", "input=20 output=100")
    _git(repo, "config", "gitboard.price.My-Proxy", "input=1,output=2,cache_read=0")
    _git(repo, "config", "gitboard.price.broken", "input=abc")
    warnings: list[str] = []
    prices = pricing.load_prices(repo, warn=warnings.append)
    usage = {"input_tokens": 1_000_000, "output_tokens": 1_000_000, "cache_read_input_tokens": 1_000_000}
    assert pricing.cost_usd("claude-sonnet-5-5", usage, prices) == pytest.approx(20 + 100 + 0.1)
    assert pricing.cost_usd("my-proxy", usage, prices) == pytest.approx(3)
    assert pricing.cost_usd("claude-sonnet-5-5", usage) == pytest.approx(12.1)  # the table is untouched
    assert warnings == ["git config gitboard.price.broken: input='abc' is not a number; ignored"]
    assert pricing.load_prices(tmp_path / "nowhere") == pricing.PRICES


def test_meter_sums_cost_per_response_and_names_models() -> None:
    m = Meter()
    m.add("claude-haiku-5-5", {"input_tokens": 1000, "output_tokens": 100})
    m.add("claude-sonnet-5-5", {"input_tokens": 1000, "output_tokens": 100})
    assert m.models == ["claude-haiku-5-5", "claude-sonnet-5-5"]
    assert m.cost_usd == pytest.approx((1000 * 0.1 + 100 * 0.5 + 1000 * 2 + 100 * 10) / 1e6)
    assert m.tokens == 2200
    m.add("mystery", {"input_tokens": 1})
    assert m.cost_usd is None and m.unpriced == ["mystery"] and "no price for mystery" in m.line()


def test_budget_reached_and_max_output() -> None:
    m = Meter()
    m.add("claude-sonnet-5-5", {"input_tokens": 2000, "output_tokens": 500})
    assert Budget(tokens=2500).reached(m).startswith("budget reached: 2,500 tokens")
    assert Budget(tokens=2501).reached(m) is None
    assert Budget(tokens=10_000).max_output(m, "claude-sonnet-5-5", None) == 10_000 - 2500 - 2000
    # $0.009 spent; $0.0095 leaves $0.0005, less a prompt like the last (2,000 input tokens, $0.004): none
    assert Budget(usd=0.0095).max_output(m, "claude-sonnet-5-5", None) < 0
    # $0.015 leaves $0.006, less the $0.004 prompt: $0.002, 200 output tokens at $10/MTok
    assert Budget(usd=0.015).max_output(m, "claude-sonnet-5-5", None) == 200
    assert Budget(usd=0.009).reached(m).startswith("budget reached: $0.0090 spent")
    assert Budget().max_output(m, "x", None) is None and not Budget()
    assert "has no price" in Budget(usd=1).unenforceable("claude-test-model", None)
    m.add("claude-sonnet-5-5", {"input_tokens": 10, "cache_read_input_tokens": 2000, "output_tokens": 100})
    assert m.last_prompt_usd == pytest.approx((10 * 2 + 2000 * 0.1) / 1e6)  # a cached prompt costs less
