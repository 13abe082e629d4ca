"""The contracts YAML: defaults, and errors that name the path."""

from __future__ import annotations

import pytest
import yaml

from brique.simulator.contracts_file import ContractsInvalid, parse_contracts
from tests.unit.simulator.sim_factories import DATA


def test_shipped_files_parse() -> None:
    for name in ("example", "philly", "helios"):
        parse_contracts(yaml.safe_load((DATA / f"contracts/{name}.yaml").read_text()))


def test_defaults_and_absent_tenants() -> None:
    book = parse_contracts({"tenants": [{"name": "cluster03", "guaranteed_gpus": 144, "weight": 2}]})
    t = book.terms("cluster03")
    assert (t.guarantee, t.weight, t.may_borrow, t.borrow_cap) == (144, 2.0, True, None)
    other = book.terms("nobody")
    assert (other.guarantee, other.weight) == (0, 1.0)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        pytest.param({"tenants": [{"name": "a", "weight": 0}]}, "tenants[0].weight: must be a number > 0", id="zero-weight"),
        pytest.param({"tenants": [{"name": "a"}, {"name": "b", "guaranteed_gpus": -1}]}, "tenants[1].guaranteed_gpus", id="negative"),
        pytest.param({"tenants": [{"guaranteed_gpus": 1}]}, "tenants[0].name: required", id="no-name"),
        pytest.param({"tenants": [{"name": 6.2e12}]}, "tenants[0].name: required", id="unquoted-hash"),
        pytest.param({"tenants": [{"name": "a", "quota": 3}]}, "tenants[0].quota: unknown field 'quota' (known: borrow_cap", id="unknown-field"),
        pytest.param({"tenants": [{"name": "a", "wieght": 3}]}, "tenants[0].wieght: unknown field 'wieght' — did you mean 'weight'?", id="typo"),
        pytest.param({"tenants": [{"name": "a"}, {"name": "a"}]}, "tenants[1].name: tenant 'a' appears twice", id="twice"),
        pytest.param({"tenants": [{"name": "a", "may_borrow": "yes"}]}, "tenants[0].may_borrow", id="bool"),
        pytest.param({"teams": []}, "teams: unknown field 'teams' — did you mean 'tenants'?", id="top-level"),
        pytest.param([], "top level", id="not-a-mapping"),
    ],
)  # fmt: skip
def test_errors_name_the_path(doc: object, message: str) -> None:
    with pytest.raises(ContractsInvalid) as exc:
        parse_contracts(doc)
    assert message in str(exc.value)
