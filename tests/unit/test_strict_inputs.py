"""Request models and the CLI's job files: unknown fields named with a suggestion, strict types, sane text."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from brique.cli.jobs import _load_spec
from brique.domain.suggest import unknown_field
from brique.errors import InvalidInput
from brique.schemas.agents import LogChunk
from brique.schemas.billing import BudgetRequest
from brique.schemas.sovereignty import PolicyModel, SecretPut

JOB = "name: j\nproject: llm\ncommand: python train.py\ngpus: 1\n"


@pytest.mark.parametrize(
    ("name", "known", "message"),
    [
        ("country", ["countries", "name"], "unknown field 'country' — did you mean 'countries'?"),
        ("zzz", ["b", "a"], "unknown field 'zzz' (known: a, b)"),
    ],
    ids=["close", "far"],
)
def test_unknown_field_wording(name: str, known: list[str], message: str) -> None:
    assert unknown_field(name, known) == message


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("sleep: 30\n", "sleep: unknown field 'sleep' — did you mean 'sleep_s'?"),
        (
            "placement: {country: [DE]}\n",
            "placement.country: unknown field 'country' — did you mean 'countries'?",
        ),
        ("gpus: '1'\n", "gpus: Input should be a valid integer"),
    ],
    ids=["typo", "nested", "string-gpus"],
)
def test_cli_job_files_are_held_to_the_same_rules(tmp_path: Path, extra: str, message: str) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(JOB.replace("gpus: 1\n", "") + extra if "gpus" in extra else JOB + extra)
    with pytest.raises(InvalidInput) as err:
        _load_spec(str(spec), None)
    assert message in err.value.message


def test_a_residency_policy_with_a_misspelt_field_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        PolicyModel.model_validate({"country": ["DE"], "name": "DE only"})
    assert err.value.errors()[0]["loc"] == ("country",)


@pytest.mark.parametrize("amount", ["0.001", "1e400", "Infinity", "NaN", "-1", "1000000000000"])
def test_money_is_finite_cents_below_the_column_limit(amount: str) -> None:
    with pytest.raises(ValidationError):
        BudgetRequest.model_validate({"amount": amount})


def test_text_never_carries_nul_or_lone_surrogates_except_raw_job_output() -> None:
    with pytest.raises(ValidationError):
        SecretPut.model_validate({"value": "\ud800"})
    with pytest.raises(ValidationError):
        PolicyModel.model_validate({"name": "a\x00"})
    assert (
        LogChunk.model_validate({"job_id": "j", "attempt": 1, "offset": 0, "data": "a\x00"}).data == "a\x00"
    )
