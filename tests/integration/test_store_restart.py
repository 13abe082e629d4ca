"""Restarting the control plane keeps everything and does not re-insert the fleet."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from brique.config import Settings
from brique.domain.fleet import HealthState
from brique.domain.tenancy import Principal, Role
from brique.server.runtime import build_runtime
from brique.store.tables import ApiKeyRow, GpuRow, NodeRow, OrgRow, ProjectRow, RackRow
from tests.conftest import SMALL_FLEET


def _counts(rt) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with rt.db.transaction() as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t)) for t in
                (RackRow, NodeRow, GpuRow, OrgRow, ProjectRow, ApiKeyRow)}  # fmt: skip


def test_restart_keeps_orgs_projects_keys_and_fleet(settings: Settings) -> None:
    rt = build_runtime(settings)
    assert rt.fleet_written
    token = rt.services.tenancy.bootstrap(settings.admin_key_file)
    assert token is not None and settings.admin_key_file.stat().st_mode & 0o777 == 0o600
    admin = rt.services.tenancy.authenticate(token)
    new = rt.services.tenancy.create_org(admin, "acme", None, "FR", "admin@acme.eu")
    assert new.admin_key is not None
    tenant = rt.services.tenancy.authenticate(new.admin_key.token)
    rt.services.tenancy.create_project(tenant, "acme", "llm", "pretraining")
    rt.services.fleet.set_node_state(admin, "fr-tst-1/r001/n03", HealthState.DOWN, "PSU")
    before = _counts(rt)
    rt.close()

    again = build_runtime(settings)
    try:
        assert not again.fleet_written  # same fingerprint: nothing re-inserted
        assert again.services.tenancy.bootstrap(settings.admin_key_file) is None  # admin exists already
        assert _counts(again) == before
        assert before["gpus"] == 360 and before["nodes"] == 90
        tenant2 = again.services.tenancy.authenticate(new.admin_key.token)
        assert [p.name for p in again.services.tenancy.list_projects(tenant2, "acme")] == ["llm"]
        assert again.services.tenancy.authenticate(token).role is Role.OPERATOR_ADMIN
        cap = {c.site.id: c for c in again.services.fleet.capacity(admin)}
        assert cap["fr-tst-1"].gpus == {"up": 284, "draining": 0, "down": 4}
    finally:
        again.close()


def test_changed_fleet_file_is_resynced_keeping_node_health(settings: Settings, tmp_path: Path) -> None:
    rt = build_runtime(settings)
    admin = Principal("usr_x", "key_x", Role.OPERATOR_ADMIN, None)
    rt.services.fleet.set_node_state(admin, "fr-tst-1/r001/n01", HealthState.DRAINING, None)
    rt.close()
    bigger = tmp_path / "bigger.yaml"
    bigger.write_text(SMALL_FLEET.read_text().replace("count: 4,", "count: 6,"))
    rt2 = build_runtime(settings.model_copy(update={"fleet_file": bigger}))
    try:
        assert rt2.fleet_written
        counts = _counts(rt2)
        assert counts["racks"] == 7 and counts["gpus"] == 7 * 72
        cap = {c.site.id: c for c in rt2.services.fleet.capacity(admin)}
        assert cap["fr-tst-1"].nodes["draining"] == 1
    finally:
        rt2.close()
