"""The contracts file (YAML, already decoded): tenants' guarantees, weights and borrowing.

```yaml
tenants:
  - name: cluster03          # matches the trace's tenant column
    guaranteed_gpus: 144     # priority-tier capacity that is always theirs (default 0)
    weight: 2                # fair-share weight for idle capacity (default 1)
    may_borrow: true         # may use idle capacity beyond the guarantee (default true)
    borrow_cap: 288          # optional: most GPUs beyond the guarantee at once
    site: fr-par-1           # optional: the guarantee holds in this site only
```

Tenants absent from the file get no guarantee and weight 1. Problems are reported
with their path, e.g. `tenants[2].weight: must be a number > 0`.
"""

from __future__ import annotations

from typing import Any

from brique.domain.contracts import Contract, ContractBook
from brique.domain.suggest import unknown_field

TENANT_FIELDS = {"name", "guaranteed_gpus", "weight", "may_borrow", "borrow_cap", "site"}


class ContractsInvalid(ValueError):
    """The contracts document breaks a rule; the message names the path."""


def parse_contracts(doc: Any) -> ContractBook:
    if doc is None:
        return ContractBook()
    if not isinstance(doc, dict):
        raise ContractsInvalid("top level: expected a mapping with one key, 'tenants'")
    for key in doc:
        if key != "tenants":
            raise ContractsInvalid(f"{key}: {unknown_field(str(key), ['tenants'])}")
    items = doc.get("tenants") or []
    if not isinstance(items, list):
        raise ContractsInvalid("tenants: expected a list")
    seen: set[tuple[str, str | None]] = set()
    out = []
    for i, raw in enumerate(items):
        c = _contract(raw, f"tenants[{i}]")
        if (c.tenant, c.site) in seen:
            raise ContractsInvalid(f"tenants[{i}].name: tenant '{c.tenant}' appears twice")
        seen.add((c.tenant, c.site))
        out.append(c)
    return ContractBook.of(out)


def _contract(raw: Any, path: str) -> Contract:
    if not isinstance(raw, dict):
        raise ContractsInvalid(f"{path}: expected a mapping")
    unknown = sorted(str(k) for k in set(raw) - TENANT_FIELDS)
    if unknown:
        raise ContractsInvalid(f"{path}.{unknown[0]}: {unknown_field(unknown[0], TENANT_FIELDS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ContractsInvalid(f"{path}.name: required, a non-empty string")
    cap = raw.get("borrow_cap")
    site = raw.get("site")
    if site is not None and not isinstance(site, str):
        raise ContractsInvalid(f"{path}.site: must be a site id")
    return Contract(
        tenant=name,
        guaranteed_gpus=_int(raw.get("guaranteed_gpus", 0), f"{path}.guaranteed_gpus"),
        weight=_weight(raw.get("weight", 1), f"{path}.weight"),
        may_borrow=_bool(raw.get("may_borrow", True), f"{path}.may_borrow"),
        borrow_cap=None if cap is None else _int(cap, f"{path}.borrow_cap"),
        site=site,
    )


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ContractsInvalid(f"{path}: must be an integer >= 0, got {value!r}")
    return value


def _weight(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ContractsInvalid(f"{path}: must be a number > 0, got {value!r}")
    return float(value)


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ContractsInvalid(f"{path}: must be true or false, got {value!r}")
    return value
