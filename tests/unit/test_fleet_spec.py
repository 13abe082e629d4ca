"""The fleet file: the default fleet's shape, and each validation rule with its message."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from brique.config import DEFAULT_FLEET
from brique.domain.fleet import ExecutorKind, HealthState
from brique.domain.fleet_spec import FleetSpecInvalid, parse_fleet
from brique.errors import FleetFileInvalid
from brique.services.fleet import load_fleet_file

VALID: dict[str, Any] = {
    "name": "t",
    "sites": [
        {
            "id": "fr-a",
            "country": "FR",
            "operator": {"name": "A SAS", "country": "FR"},
            "certifications": ["secnumcloud"],
            "pue": 1.2,
            "grid_gco2e_per_kwh": 45,
            "executor": "simulated",
            "racks": [
                {
                    "count": 2,
                    "nodes_per_rack": 18,
                    "gpus_per_node": 4,
                    "gpu_model": "GB200",
                    "gpu_power_w": 1200,
                }
            ],
        },
        {
            "id": "de-b",
            "country": "DE",
            "operator": {"name": "B GmbH", "country": "DE"},
            "pue": 1.3,
            "grid_gco2e_per_kwh": 350,
            "racks": [
                {
                    "count": 1,
                    "nodes_per_rack": 18,
                    "gpus_per_node": 4,
                    "gpu_model": "GB200",
                    "gpu_power_w": 1200,
                }
            ],
        },
    ],
}


def test_default_fleet_is_18000_gb200_in_250_nvl72_racks() -> None:
    fleet = load_fleet_file(DEFAULT_FLEET)
    assert fleet.gpu_count == 18_000
    assert fleet.rack_count == 250
    assert fleet.node_count == 250 * 18
    assert all(r.gpu_count == 72 and r.gpu_model == "GB200" for r in fleet.racks())
    assert all(n.cpus == 2 and n.gpu_count == 4 for n in fleet.nodes())
    assert len(fleet.sites) >= 3
    assert len({s.country for s in fleet.sites}) >= 2
    biggest = max(fleet.sites, key=lambda s: len(s.racks))
    assert biggest.country == "FR" and len(biggest.racks) > 125
    assert len({g.id for g in fleet.gpus()}) == 18_000  # ids are unique


def test_parse_builds_the_hierarchy_with_stable_ids_and_defaults() -> None:
    fleet = parse_fleet(VALID)
    fr = fleet.site("fr-a")
    assert fr is not None
    assert [r.id for r in fr.racks] == ["fr-a/r001", "fr-a/r002"]
    assert fr.racks[0].nodes[6].id == "fr-a/r001/n07"
    assert fr.racks[0].nodes[6].gpus[2].id == "fr-a/r001/n07/g2"
    assert fr.jurisdiction == "EU/FR" and fr.region == "eu"
    assert fr.racks[0].nodes[0].state is HealthState.UP
    de = fleet.site("de-b")
    assert de is not None and de.executor is ExecutorKind.SIMULATED and de.certifications == frozenset()
    assert fleet.gpu_count == 3 * 72


def _broken(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(VALID)
    target: Any = doc
    keys = path.replace("[", ".").replace("]", "").split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is _DELETE:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return doc


_DELETE = object()

CASES = [
    ("pue-low", "sites[1].pue", 0.9, "sites[1].pue: must be >= 1.0"),
    ("pue-high", "sites[0].pue", 4, "sites[0].pue: must be <= 3.0"),
    ("pue-type", "sites[0].pue", "low", "sites[0].pue: must be a number"),
    ("pue-bool", "sites[0].pue", True, "sites[0].pue: must be a number"),
    ("grid-negative", "sites[0].grid_gco2e_per_kwh", -1, "sites[0].grid_gco2e_per_kwh: must be >= 0.0"),
    (
        "country-unknown",
        "sites[0].country",
        "XX",
        "sites[0].country: 'XX' is not an ISO 3166-1 alpha-2 country code (e.g. FR, DE)",
    ),
    (
        "country-lowercase",
        "sites[0].country",
        "fr",
        "sites[0].country: 'fr' is not an ISO 3166-1 alpha-2 country code (e.g. FR, DE)",
    ),
    ("country-missing", "sites[0].country", _DELETE, "sites[0].country: is required"),
    ("operator-missing", "sites[0].operator", _DELETE, "sites[0].operator: is required"),
    (
        "operator-country",
        "sites[0].operator.country",
        "ZZ",
        "sites[0].operator.country: 'ZZ' is not an ISO 3166-1 alpha-2 country code (e.g. FR, DE)",
    ),
    (
        "operator-name-empty",
        "sites[0].operator.name",
        " ",
        "sites[0].operator.name: must be a non-empty string",
    ),
    (
        "cert-unknown",
        "sites[0].certifications[0]",
        "gold",
        "sites[0].certifications[0]: unknown certification 'gold' (known: c5, ens-high, eucs-high, hds, iso27001, iso27017, iso27018, iso50001, secnumcloud, soc2, tisax)",
    ),
    ("cert-not-list", "sites[0].certifications", "secnumcloud", "sites[0].certifications: must be a list"),
    (
        "executor",
        "sites[0].executor",
        "docker",
        "sites[0].executor: must be one of: simulated, local, slurm, kubernetes",
    ),
    (
        "site-id-slug",
        "sites[0].id",
        "FR_A",
        "sites[0].id: must be lowercase letters, digits and '-' (at most 63 characters)",
    ),
    ("site-id-duplicate", "sites[1].id", "fr-a", "sites[1].id: duplicate site id 'fr-a'"),
    ("racks-empty", "sites[0].racks", [], "sites[0].racks: must be a non-empty list of rack groups"),
    ("rack-count-zero", "sites[0].racks[0].count", 0, "sites[0].racks[0].count: must be between 1 and 10000"),
    ("rack-count-float", "sites[0].racks[0].count", 1.5, "sites[0].racks[0].count: must be an integer"),
    (
        "nodes-per-rack",
        "sites[0].racks[0].nodes_per_rack",
        100,
        "sites[0].racks[0].nodes_per_rack: must be between 1 and 72",
    ),
    (
        "gpus-per-node",
        "sites[0].racks[0].gpus_per_node",
        0,
        "sites[0].racks[0].gpus_per_node: must be between 1 and 16",
    ),
    ("gpu-power", "sites[0].racks[0].gpu_power_w", 0, "sites[0].racks[0].gpu_power_w: must be >= 1.0"),
    ("gpu-model-missing", "sites[0].racks[0].gpu_model", _DELETE, "sites[0].racks[0].gpu_model: is required"),
    (
        "unknown-site-field",
        "sites[0].pue_typo",
        1,
        "sites[0].pue_typo: unknown field 'pue_typo' (known: certifications, country, executor, grid_gco2e_per_kwh, id, jurisdiction, name, operator, pue, racks, region, slurm)",
    ),
    ("unknown-site-field-typo", "sites[0].contry", "FR", "sites[0].contry: unknown field 'contry' — did you mean 'country'?"),
    (
        "fleet-name",
        "name",
        "Big Fleet",
        "name: must be lowercase letters, digits and '-' (at most 63 characters)",
    ),
    ("sites-empty", "sites", [], "sites: must be a non-empty list"),
    ("site-not-mapping", "sites[1]", "de-b", "sites[1]: must be a mapping"),
    (
        "slurm-section-elsewhere",
        "sites[0].slurm",
        {"spool_dir": "/x"},
        "sites[0].slurm: only allowed when executor is slurm",
    ),
]


def test_slurm_sites_need_a_spool_dir() -> None:
    doc = _broken("sites[0].executor", "slurm")
    with pytest.raises(FleetSpecInvalid) as info:
        parse_fleet(doc)
    assert [str(p) for p in info.value.problems] == ["sites[0].slurm.spool_dir: is required"]
    doc["sites"][0]["slurm"] = {"spool_dir": "/srv/brique-spool", "partition": "gpu"}
    site = parse_fleet(doc).sites[0]
    assert site.executor_options == {"spool_dir": "/srv/brique-spool", "partition": "gpu"}


@pytest.mark.parametrize(("path", "value", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_names_the_path_and_the_rule(path: str, value: Any, message: str) -> None:
    with pytest.raises(FleetSpecInvalid) as info:
        parse_fleet(_broken(path, value))
    assert [str(p) for p in info.value.problems] == [message]


def test_all_problems_are_reported_at_once() -> None:
    doc = _broken("sites[1].pue", 0.5)
    doc["sites"][0]["country"] = "XX"
    with pytest.raises(FleetSpecInvalid) as info:
        parse_fleet(doc)
    assert [p.path for p in info.value.problems] == ["sites[0].country", "sites[1].pue"]


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(FleetSpecInvalid, match="must be a mapping"):
        parse_fleet(["not", "a", "fleet"])


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_broken("sites[1].pue", 0.9)))
    with pytest.raises(FleetFileInvalid) as info:
        load_fleet_file(bad)
    assert info.value.message == f"{bad}: sites[1].pue: must be >= 1.0"


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsites: [\n  - id: a\n")
    with pytest.raises(FleetFileInvalid) as info:
        load_fleet_file(bad)
    assert info.value.message.startswith(f"{bad}: line ")
    assert "not valid YAML" in info.value.message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FleetFileInvalid, match="cannot read file"):
        load_fleet_file(tmp_path / "nope.yaml")
