"""Signed sovereignty evidence: for each job of an org, where it ran and who could touch it.

Built from the audit log (every placement is recorded there with its site) and the lockbox
(every access granted to operators), signed with the platform's Ed25519 key, and verifiable
offline with `brique sovereignty verify FILE` (`crypto.signing.verify_envelope`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from brique.clock import Clock
from brique.crypto.signing import SigningKey
from brique.domain.audit import AuditRecord
from brique.domain.fleet import Fleet
from brique.domain.job_records import JobRecord
from brique.domain.runs import image_in
from brique.domain.tenancy import Action, Principal
from brique.errors import InvalidInput, NotFound
from brique.services.authz import require
from brique.store.db import Database
from brique.store.repos import audit as audit_repo
from brique.store.repos import jobs as jobs_repo
from brique.store.repos import lockbox as lockbox_repo
from brique.store.repos import tenancy as tenancy_repo


class EvidenceService:
    def __init__(self, db: Database, clock: Clock, fleet: Fleet, signer: SigningKey) -> None:
        self.db = db
        self.clock = clock
        self.fleet = fleet
        self.signer = signer

    def report(self, who: Principal, org_ref: str, since: datetime, until: datetime) -> dict[str, Any]:
        require(who, Action.ORG_READ)
        # in UTC and in the audit log's own format, so that the string comparison below is exact
        since, until = (t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC) for t in (since, until))
        if until <= since:
            raise InvalidInput("'to' must be after 'from'", field="to")
        with self.db.transaction() as s:
            org = tenancy_repo.find_org(s, org_ref)
            if org is None or not (who.is_operator or who.org_id == org.id):
                raise NotFound(f"organization '{org_ref}' not found", field="org")
            placements = audit_repo.actions_between(s, org.id, "job.placed",
                                                    since.isoformat(timespec="microseconds"),
                                                    until.isoformat(timespec="microseconds"))  # fmt: skip
            by_job: dict[str, list[AuditRecord]] = {}
            for p in placements:
                by_job.setdefault(p.object, []).append(p)
            job_ids = sorted(by_job)
            jobs = jobs_repo.by_ids(s, job_ids)
            started = jobs_repo.started_messages(s, job_ids)
            grants = lockbox_repo.decided(s, org.id)
        entries = [self._job_entry(job_id, jobs.get(job_id), by_job[job_id], grants, started) for job_id in job_ids]
        if who.is_operator:  # blind by default: job names are tenant data
            entries = [{**e, "name": None} for e in entries]
        doc = {
            "type": "brique-sovereignty-report/1",
            "org": {"id": org.id, "name": org.name, "country": org.country},
            "period": {"from": since.isoformat(), "to": until.isoformat()},
            "generated_at": self.clock.now().isoformat(timespec="seconds"),
            "jobs": entries,
            "summary": {
                "jobs": len(entries),
                "countries": sorted({p["country"] for e in entries for p in e["placements"]}),
                "operators": sorted({p["operator"]["name"] for e in entries for p in e["placements"]}),
                "operator_accesses": sum(len(e["operator_access"]) for e in entries),
            },
        }
        return self.signer.envelope(doc)

    def _job_entry(
        self, job_id: str, job: JobRecord | None, placements: Any, grants: Any, started: dict[tuple[str, int], str]
    ) -> dict[str, Any]:  # fmt: skip
        runs = []
        for p in placements:  # this job's, in audit order
            site = self.fleet.site(p.site or "")
            image = image_in(started.get((job_id, p.details.get("attempt") or 0), ""))
            runs.append({
                "image": {"ref": image[0], "id": image[1]} if image else None,  # what the node says ran
                "at": p.at, "attempt": p.details.get("attempt"), "site": p.site, "gpus": p.details.get("gpus"),
                "country": site.country if site else None, "jurisdiction": site.jurisdiction if site else None,
                "operator": {"name": site.operator.name, "country": site.operator.country} if site else None,
                "certifications": sorted(site.certifications) if site else [], "audit_seq": p.seq,
            })  # fmt: skip
        access = [
            {"request": g.id, "operator": g.requested_by, "approved_by": g.decided_by, "break_glass": g.break_glass,
             "from": g.decided_at.isoformat() if g.decided_at else None,
             "until": (g.revoked_at or g.expires_at).isoformat() if (g.revoked_at or g.expires_at) else None,
             "justification": g.justification}
            for g in grants
            if job is not None and ((g.scope_kind == "job" and g.scope_id == job_id)
                                    or (g.scope_kind == "project" and g.scope_id == job.project_id))
        ]  # fmt: skip
        return {"job_id": job_id, "name": job.name if job else None, "project_id": job.project_id if job else None,
                "deployment": job.spec.labels.get("brique.deployment") if job else None,  # a model replica's
                "placements": runs, "operator_access": access}  # fmt: skip
