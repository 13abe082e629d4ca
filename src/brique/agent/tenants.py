"""One unprivileged host user per tenant, created by the agent when it runs as root.

Two tenants never share a uid, so their jobs cannot read each other's files even where a
path is reachable; no tenant ever runs as root or as the agent's user. The name is derived
from the org id (`bq-<hash>`), so every agent on every node picks the same user.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import subprocess
import time

from brique.executors.base import ExecutorError


def tenant_user_name(org_id: str) -> str:
    return "bq-" + hashlib.sha256(org_id.encode()).hexdigest()[:12]


def tenant_ids(org_id: str) -> tuple[int, int] | None:
    """(uid, gid) of the tenant's user, creating it if needed; None when the agent is not root."""
    if os.geteuid() != 0:
        return None
    name = tenant_user_name(org_id)
    for attempt in range(20):  # two agents on one host may create the same user at once
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            pass
        made = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", "--comment", f"brique tenant {org_id}", name],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if made.returncode not in (0, 9):  # 9: the name exists (a concurrent agent made it)
            time.sleep(0.05 * (attempt + 1))  # e.g. 10: /etc/passwd locked by the other agent
    raise ExecutorError(f"cannot create the host user {name} for tenant {org_id}: {made.stderr.strip()}")
