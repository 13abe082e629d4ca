"""An insider with database access attacks the audit log; verification and witnesses catch it.

Each attack is done in SQL on the real database (SQLite and PostgreSQL): rewrite history (with and
without deleting the signed tree heads), truncate the start or the tail, restore an older copy.
`GET /v1/audit/verify` (what `brique audit verify` shows) catches each one through the signed
heads and the server's last signed head, kept outside the database; a witness that kept an earlier
head (`brique audit witness`) catches each one even when the server's own files are rolled back too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, update

from brique.cli.trust import run_witness
from brique.crypto.signing import Signer
from brique.domain.audit import AuditRecord, chain
from brique.errors import InvalidInput
from brique.sdk import Client
from brique.store.tables import AuditCheckpointRow, AuditHeadRow, AuditRecordRow
from tests.integration.conftest import Cloud, auth

TABLES = (AuditRecordRow.__table__, AuditHeadRow.__table__, AuditCheckpointRow.__table__)


@pytest.fixture
def sdk(cloud: Cloud) -> Iterator[Client]:
    """The SDK as a tenant (any identity may witness), over the in-process app."""
    with Client("http://testserver", cloud.tenant, transport=cloud.http._transport) as c:
        yield c


def activity(cloud: Cloud, n: int = 3) -> None:
    for i in range(n):
        cloud.submit(name=f"j{i}")
        cloud.http.post("/v1/orgs/acme/projects", json={"name": f"p{cloud.clock.at.timestamp():.0f}{i}"},
                        headers=auth(cloud.tenant))  # fmt: skip
    cloud.tick(1)
    cloud.rt.services.sovereignty.audit.checkpoint()


def witnessed(cloud: Cloud, sdk: Client, state: Path) -> str:
    return run_witness(sdk, state, [cloud.rt.services.sovereignty.signer.public_key])


def verify(cloud: Cloud) -> dict[str, Any]:
    return cloud.http.get("/v1/audit/verify", headers=auth(cloud.admin)).json()


def records(cloud: Cloud) -> list[dict[str, Any]]:
    with cloud.rt.db.engine.connect() as c:
        return [
            dict(r)
            for r in c.execute(select(AuditRecordRow.__table__).order_by(AuditRecordRow.seq)).mappings()
        ]


def rewrite_from(cloud: Cloud, seq: int) -> None:
    """Change record `seq` and recompute every hash after it: a chain alone still verifies."""
    rows = records(cloud)
    prev = rows[seq - 2]["hash"] if seq > 1 else "0" * 64
    with cloud.rt.db.engine.begin() as c:
        for row in rows[seq - 1 :]:
            fields = {**row, "prev_hash": prev, "hash": ""}
            if row["seq"] == seq:
                fields["actor"] = "mallory"
            new = chain(AuditRecord(**fields))
            c.execute(update(AuditRecordRow).where(AuditRecordRow.seq == row["seq"])
                      .values(actor=new.actor, prev_hash=new.prev_hash, hash=new.hash))  # fmt: skip
            prev = new.hash
        c.execute(update(AuditHeadRow).values(hash=prev))


def drop_heads(cloud: Cloud, above: int = 0) -> None:
    with cloud.rt.db.engine.begin() as c:
        c.execute(delete(AuditCheckpointRow).where(AuditCheckpointRow.seq > above))


def snapshot(cloud: Cloud) -> list[list[dict[str, Any]]]:
    with cloud.rt.db.engine.connect() as c:
        return [[dict(r) for r in c.execute(select(t)).mappings()] for t in TABLES]


def restore(cloud: Cloud, copy: list[list[dict[str, Any]]]) -> None:
    """Put an older copy of the audit tables back (what restoring a database backup does to them)."""
    with cloud.rt.db.engine.begin() as c:
        for t in TABLES:
            c.execute(delete(t))
        for t, rows in zip(TABLES, copy, strict=True):
            if rows:
                c.execute(insert(t), rows)


def assert_caught(cloud: Cloud, sdk: Client, state: Path, server_says: str, witness_says: str) -> None:
    v = verify(cloud)
    assert not v["ok"] and server_says in v["problem"], v
    with pytest.raises(InvalidInput, match=witness_says):
        witnessed(cloud, sdk, state)
    assert cloud.rt.services.sovereignty.audit.checkpoint() is None  # the server signs no forged head


def test_an_honest_log_verifies_and_witnesses_see_it_grow(cloud: Cloud, sdk: Client, tmp_path: Path) -> None:
    state = tmp_path / "witness.json"
    activity(cloud)
    assert witnessed(cloud, sdk, state).endswith("first head stored")
    activity(cloud)
    assert "consistent with the head seen before" in witnessed(cloud, sdk, state)
    v = verify(cloud)
    assert v["ok"] and v["signed_heads"] == 2 and v["tree_size"] == v["head_seq"], v
    p = sdk.audit_consistency(3, v["tree_size"])
    assert p.proof and all(len(h) == 64 for h in p.proof)


@pytest.mark.parametrize("drop", [False, True], ids=["heads-kept", "heads-deleted"])
def test_rewriting_history_is_caught(cloud: Cloud, sdk: Client, tmp_path: Path, drop: bool) -> None:
    state = tmp_path / "witness.json"
    activity(cloud)
    witnessed(cloud, sdk, state)
    activity(cloud)
    rewrite_from(cloud, 4)
    if drop:
        drop_heads(cloud)
    server_says = "FORK: records 1.." if drop else "differ from the signed tree head"
    assert_caught(cloud, sdk, state, server_says, "FORK")


def test_deleting_the_start_and_moving_the_anchor_is_caught(
    cloud: Cloud, sdk: Client, tmp_path: Path
) -> None:
    state = tmp_path / "witness.json"
    activity(cloud, 4)
    witnessed(cloud, sdk, state)
    k = 8
    with cloud.rt.db.engine.begin() as c:
        anchor = c.execute(select(AuditRecordRow.hash).where(AuditRecordRow.seq == k)).scalar_one()
        c.execute(delete(AuditRecordRow).where(AuditRecordRow.seq <= k))
        c.execute(update(AuditHeadRow).values(anchor_seq=k, anchor_hash=anchor))
    drop_heads(cloud)
    v = verify(cloud)
    assert not v["ok"] and v["first_bad"] == 1 and "record 1 is missing" in v["problem"], v
    with pytest.raises(InvalidInput, match=r"cannot prove its log: .*audit record 1 is missing"):
        witnessed(cloud, sdk, state)  # the server cannot even build a proof over a broken log


def test_truncating_the_tail_is_caught(cloud: Cloud, sdk: Client, tmp_path: Path) -> None:
    state = tmp_path / "witness.json"
    activity(cloud)
    keep = verify(cloud)["head_seq"]
    activity(cloud)
    witnessed(cloud, sdk, state)
    with cloud.rt.db.engine.begin() as c:
        last = c.execute(select(AuditRecordRow.hash).where(AuditRecordRow.seq == keep)).scalar_one()
        c.execute(delete(AuditRecordRow).where(AuditRecordRow.seq > keep))
        c.execute(update(AuditHeadRow).values(seq=keep, hash=last))
    drop_heads(cloud, above=keep)
    assert_caught(cloud, sdk, state, "ROLLBACK", "ROLLBACK")


def test_restoring_an_older_database_is_caught(cloud: Cloud, sdk: Client, tmp_path: Path) -> None:
    state = tmp_path / "witness.json"
    activity(cloud)
    old = snapshot(cloud)
    activity(cloud)
    witnessed(cloud, sdk, state)
    restore(cloud, old)
    assert_caught(cloud, sdk, state, "ROLLBACK", "ROLLBACK")


def test_a_restore_that_also_rolls_back_the_servers_files_needs_a_witness(
    cloud: Cloud, sdk: Client, tmp_path: Path
) -> None:
    """With the server's head file restored too, the server cannot tell; an outside witness can,
    also after the restored log has grown past the size the witness saw (a fork, not a rollback)."""
    state = tmp_path / "witness.json"
    head_file = cloud.rt.settings.audit_head_path
    activity(cloud)
    old, old_file = snapshot(cloud), head_file.read_bytes()
    activity(cloud)
    witnessed(cloud, sdk, state)
    restore(cloud, old)
    head_file.write_bytes(old_file)
    assert verify(cloud)["ok"]  # undetectable from inside the platform
    activity(cloud, 6)  # the restored log grows past the witness's size with different records
    with pytest.raises(InvalidInput, match=r"FORK: the log at .* does not extend"):
        witnessed(cloud, sdk, state)


def test_a_head_signed_by_an_unpinned_key_is_refused(cloud: Cloud, sdk: Client, tmp_path: Path) -> None:
    activity(cloud)
    other = Signer(Ed25519PrivateKey.generate()).public_key
    with pytest.raises(InvalidInput, match="not pinned"):
        run_witness(sdk, tmp_path / "w.json", [other])
    assert not (tmp_path / "w.json").exists()
