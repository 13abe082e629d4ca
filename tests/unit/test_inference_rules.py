"""The pure inference rules: autoscaling between min and max, scale to zero, token prices, key scope."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from brique.agent.ngram import TrigramModel
from brique.domain.inference import (
    Deployment,
    DeploymentState,
    InferenceKey,
    Load,
    TokenTotals,
    desired_replicas,
)
from brique.domain.jobs import Tier
from brique.domain.policy import PlacementPolicy
from brique.domain.pricing import PriceBookInvalid, parse_pricebook
from brique.domain.token_pricing import TokenPrice, token_charges

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def make_dep(**kw: object) -> Deployment:
    base = dict(id="dep_1", org_id="org_1", project_id="prj_1", name="chat", model="m", runtime="echo",
                command=None, image=None, gpus=1, min_replicas=0, max_replicas=4, tier=Tier.STANDARD,
                placement=PlacementPolicy(), desired_replicas=1, state=DeploymentState.ACTIVE, created_by="usr_1",
                created_at=T0, updated_at=T0, target_inflight=2, idle_s=60.0)  # fmt: skip
    return Deployment(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dep", "load", "after_s", "want"),
    [
        pytest.param(make_dep(), Load(inflight=5), 1, 3, id="up-at-once-ceil-5-over-2"),
        pytest.param(make_dep(), Load(inflight=50), 1, 4, id="never-above-max"),
        pytest.param(make_dep(desired_replicas=3), Load(inflight=1, last_request_at=T0), 1, 3, id="busy-no-flap-down"),
        pytest.param(make_dep(desired_replicas=3), Load(last_request_at=T0), 30, 3, id="quiet-but-not-idle-keeps"),
        pytest.param(make_dep(desired_replicas=3), Load(last_request_at=T0), 61, 0, id="idle-scales-to-zero"),
        pytest.param(make_dep(desired_replicas=3, min_replicas=2), Load(last_request_at=T0), 61, 2, id="idle-to-min"),
        pytest.param(make_dep(tier=Tier.PRIORITY, min_replicas=0), Load(last_request_at=T0), 61, 1,
                     id="guaranteed-never-zero"),
        pytest.param(make_dep(desired_replicas=0), Load(waiting=1), 1, 1, id="cold-start-on-waiting-request"),
        pytest.param(make_dep(desired_replicas=1), Load(), 30, 1, id="new-deployment-counts-idle-from-update"),
    ],
)
def test_autoscale_rule(dep: Deployment, load: Load, after_s: float, want: int) -> None:
    assert desired_replicas(dep, load, T0 + timedelta(seconds=after_s)).replicas == want


def test_scale_decision_says_why() -> None:
    assert "idle" in desired_replicas(make_dep(desired_replicas=2), Load(last_request_at=T0), T0 + timedelta(hours=1)).reason
    assert "in flight" in desired_replicas(make_dep(), Load(inflight=9), T0).reason


def test_key_scope() -> None:
    key = InferenceKey("ikey_1", "org_1", "k", ("dep_1",), None, 100, "usr_1", T0)
    assert key.allows("dep_1") and not key.allows("dep_2")
    assert dataclasses.replace(key, deployments=()).allows("dep_2")


BOOK = {"rates": {"default": {"standard": "3.60"}},
        "tokens": {"default": {"input": "0.20", "output": "0.60"}, "models": {"m-small": {"input": "0.02"}}}}  # fmt: skip


def test_token_prices_per_million_by_model_else_default() -> None:
    book = parse_pricebook(BOOK)
    totals = [TokenTotals("org_1", "prj_1", "dep_a", "a", "ikey_1", 3, 1_000_000, 500_000),
              TokenTotals("org_1", "prj_1", "dep_a", "a", "ikey_2", 1, 1_000_000, 500_000),
              TokenTotals("org_1", "prj_1", "dep_b", "b", "ikey_1", 1, 2_000_000, 0)]  # fmt: skip
    got = token_charges(totals, {"dep_a": "m-big", "dep_b": "m-small"}, book.tokens, T0, T0)
    assert [(c.deployment, c.requests, c.prompt_tokens, c.cost) for c in got] == [
        ("a", 4, 2_000_000, Decimal("0.40") + Decimal("0.60")),
        ("b", 1, 2_000_000, Decimal("0.04")),
    ]
    assert TokenPrice().cost(10**9, 10**9) == 0


@pytest.mark.parametrize(
    ("tokens", "problem"),
    [
        pytest.param({"default": {"input": 0.2}}, "tokens.default.input: write prices as strings", id="float"),
        pytest.param({"defaults": {}}, "tokens.defaults: unknown field", id="unknown-key"),
        pytest.param({"models": {"x": {"inptu": "1"}}}, "tokens.models.x.inptu: unknown field", id="typo"),
        pytest.param({"default": {"output": "-1"}}, "tokens.default.output: must be >= 0", id="negative"),
    ],
)
def test_token_price_problems_name_their_path(tokens: object, problem: str) -> None:
    with pytest.raises(PriceBookInvalid) as exc:
        parse_pricebook({**BOOK, "tokens": tokens})
    assert any(p.startswith(problem) for p in exc.value.problems), exc.value.problems


def test_trigram_model_is_causal_deterministic_and_seeded() -> None:
    words = "the file is open . the file is closed . the socket is open . the socket is listening .".split()
    m = TrigramModel(words)
    assert m.generate("the socket", 2) == ["is", "listening"]  # argmax of P(w | socket), then P(w | socket is)
    assert m.generate("the file", 2) == ["is", "closed"]
    assert m.generate("the file", 5) == m.generate("the file", 5)
    sampled = {tuple(m.generate("the", 6, temperature=1.0, seed=s)) for s in range(20)}
    assert len(sampled) > 1 and all(w in set(words) for seq in sampled for w in seq)
