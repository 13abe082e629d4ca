"""Node agents: which identity serves a node, and when it last reported."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from brique.store.tables import NodeAgentRow


def owner(session: Session, node_id: str) -> str | None:
    """The user id of the agent identity registered for the node, None when none is."""
    row = session.get(NodeAgentRow, node_id)
    return None if row is None else row.user_id


def register(session: Session, node_id: str, user_id: str, gpus: int, hostname: str, now: datetime) -> None:
    """Record (or refresh) the node's agent; registering counts as a heartbeat."""
    row = session.get(NodeAgentRow, node_id)
    if row is None:
        session.add(NodeAgentRow(node_id=node_id, user_id=user_id, gpus=gpus, hostname=hostname,
                                 registered_at=now, last_heartbeat_at=now))  # fmt: skip
    else:
        row.user_id, row.gpus, row.hostname, row.last_heartbeat_at = user_id, gpus, hostname, now


def heartbeat(session: Session, node_id: str, now: datetime) -> None:
    row = session.get(NodeAgentRow, node_id)
    if row is not None:
        row.last_heartbeat_at = now


def last_heartbeats(session: Session) -> dict[str, datetime]:
    """Each registered node's last heartbeat."""
    rows = session.execute(select(NodeAgentRow.node_id, NodeAgentRow.last_heartbeat_at))
    return {node_id: at for node_id, at in rows}
