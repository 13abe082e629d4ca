"""Metering: turn job events into usage records (idempotently), and price-free usage reports.

`collect()` runs before every scheduling cycle (a `SchedulerLoop` housekeeping task) and before
every usage or invoice read. It reads the job events written since its cursor (re-reading a
safety window behind it, for events committed out of id order), recomputes the GPU-holding
interval of every attempt of each job touched (`domain.metering.attempt_intervals`) and upserts
them keyed by (job, attempt). Recomputing from the durable events makes it idempotent: a
restart, a second collector or a replay never double-counts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.domain.energy import (
    Footprint,
    GridIntensity,
    PowerModel,
    footprint,
    idle_footprint,
    parse_intensity_csv,
)
from brique.domain.fleet import Fleet, Site
from brique.domain.job_records import JobRecord
from brique.domain.metering import UsageRecord, attempt_intervals, month_windows, whole_second
from brique.domain.tenancy import Action, Organization, Principal
from brique.errors import InvalidInput, NotFound
from brique.services.authz import require
from brique.store.db import Database
from brique.store.repos import jobs as jobs_repo
from brique.store.repos import metering as repo
from brique.store.repos import tenancy as tenancy_repo

log = logging.getLogger("brique.metering")
LOOKBACK_EVENTS = 1_000  # re-read behind the cursor: ids may commit out of order on PostgreSQL
BATCH_EVENTS = 5_000


@dataclass(frozen=True, slots=True)
class UsageItem:
    """A usage record's part inside a report window, with its project name and footprint."""

    record: UsageRecord
    project: str
    start: datetime
    end: datetime
    gpu_seconds: int
    footprint: Footprint


@dataclass(frozen=True, slots=True)
class UsageReport:
    org: Organization
    start: datetime
    end: datetime
    items: tuple[UsageItem, ...]


@dataclass(frozen=True, slots=True)
class IdleSite:
    site: str
    capacity_gpu_seconds: int
    busy_gpu_seconds: int
    footprint: Footprint


class MeteringService:
    def __init__(
        self, db: Database, clock: Clock, fleet: Fleet,
        intensity: Mapping[str, Mapping[datetime, float]] | None = None,
    ) -> None:  # fmt: skip
        self.db = db
        self.clock = clock
        self.fleet = fleet
        self.intensity = dict(intensity or {})
        self._seen: set[int] = set()  # event ids behind the cursor already applied (re-read, not re-applied)

    # -- collection -----------------------------------------------------------------------------

    def collect(self, max_batches: int | None = None) -> int:
        """Bring usage records up to date with the job events; returns records changed. With
        `max_batches`, stop after that many batches of `BATCH_EVENTS` events (the scheduling loop's
        share: a 10,000-task array brings 30,000 events, and the next cycle should not wait for them)."""
        changed = 0
        batches = 0
        while True:
            now = self.clock.now()
            with self.db.transaction() as s:
                jobs_repo.lock_for_writing(s)  # SQLite: read-then-write under the lock, not against it
                start = repo.cursor(s)
                after = max(0, start - LOOKBACK_EVENTS)
                seen = {e for e in self._seen if e > after}  # what the lookback can still return
                jobs, last = repo.touched_jobs(s, after, BATCH_EVENTS, seen)
                done, failed = self._refresh_all(s, jobs, now)
                changed += done
                repo.save_cursor(s, last, now)
            if not failed:  # once committed, and all applied: a failed job is read again next time
                self._seen = seen
            batches += 1
            if last - max(0, start - LOOKBACK_EVENTS) < BATCH_EVENTS or batches == max_batches:
                return changed

    @staticmethod
    def _refresh_all(s: Session, job_ids: list[str], now: datetime) -> tuple[int, bool]:
        """Recompute the usage records of these jobs, read and written in bulk; (records changed, any failed).
        One job's bad data is logged and skipped, never stops the others."""
        jobs = repo.usage_jobs(s, job_ids)
        events, kept = repo.events_of(s, job_ids), repo.kept_records(s, job_ids)
        plans: dict[str, tuple[list[dict], list[dict]]] = {}
        failed = False
        for job_id in job_ids:
            job = jobs.get(job_id)
            if job is None:
                continue
            try:
                intervals = attempt_intervals(events[job_id], repo.row_times(job))
                plans[job_id] = repo.plan_upsert(job, intervals, kept.get(job_id, {}), now)
            except Exception:
                failed = True
                log.exception("usage of job %s cannot be computed; skipped", job_id)
        try:
            with s.begin_nested():
                repo.write(s, [r for i, _ in plans.values() for r in i], [r for _, u in plans.values() for r in u])
        except Exception:  # some job's row cannot be written: each on its own, the bad ones skipped
            plans, failed = MeteringService._write_each(s, plans), True
        return sum(len(i) + len(u) for i, u in plans.values()), failed

    @staticmethod
    def _write_each(
        s: Session, plans: dict[str, tuple[list[dict], list[dict]]]
    ) -> dict[str, tuple[list[dict], list[dict]]]:
        written = {}
        for job_id, (inserts, updates) in plans.items():
            try:
                with s.begin_nested():
                    repo.write(s, inserts, updates)
                written[job_id] = (inserts, updates)
            except Exception:
                log.exception("usage of job %s cannot be written; skipped", job_id)
        return written

    # -- footprint ------------------------------------------------------------------------------

    def power(self, site_id: str) -> tuple[PowerModel, Site] | None:
        site = self.fleet.site(site_id)
        if site is None or not site.racks:
            return None
        rack = site.racks[0]
        per_node = rack.nodes[0].gpu_count if rack.nodes else 1
        return PowerModel(rack.gpu_power_w, max(1, per_node)), site

    def grid(self, site: Site) -> GridIntensity:
        return GridIntensity(site.grid_gco2e_per_kwh, self.intensity.get(site.id, {}))

    def footprint_of(self, gpus: int, site_id: str, start: datetime, end: datetime) -> Footprint:
        found = self.power(site_id)
        if found is None or end <= start:
            return Footprint()
        model, site = found
        return footprint(gpus, start, end, model, site.pue, self.grid(site))

    def job_usage(self, row: JobRecord) -> tuple[int, Footprint]:
        """GPU-seconds and footprint of all attempts of one job, computed from its events now."""
        with self.db.transaction() as s:
            job = jobs_repo.get(s, row.id)
            events = repo.job_events(s, row.id)
        if job is None:
            return 0, Footprint()
        now = whole_second(self.clock.now())
        total, fp = 0, Footprint()
        for i in attempt_intervals(events, repo.row_times(job)):
            end = i.ended_at or now
            site = i.site_id or job.site_id or ""
            total += job.gpus * int((end - i.started_at).total_seconds())
            fp = fp + self.footprint_of(job.gpus, site, i.started_at, end)
        return total, fp

    # -- reports --------------------------------------------------------------------------------

    def usage(self, who: Principal, org_ref: str | None, start: datetime, end: datetime) -> UsageReport:
        """Usage of one org in [start, end): one item per job attempt, clipped to the window."""
        org = self.org_for(who, org_ref)
        start, end = as_utc(start), as_utc(end)
        if end <= start:
            raise InvalidInput("'to' must be after 'from'", field="to")
        self.collect()
        return self.report(org, start, end, blind=who.is_operator)

    def report(self, org: Organization, start: datetime, end: datetime, blind: bool = False) -> UsageReport:
        """`blind`: an operator's view, where a job is its id (operators never see a job's name)."""
        now = self.clock.now()
        with self.db.transaction() as s:
            records = repo.records(s, org_id=org.id, lo=start, hi=end)
            projects = {p.id: p.name for p in tenancy_repo.list_projects(s, org.id)}
        items = []
        for lo, hi in month_windows(start, end):
            for r in records:
                window = r.window(lo, hi, now)
                if window is None:
                    continue
                gpu_s = r.gpus * int((window[1] - window[0]).total_seconds())
                fp = self.footprint_of(r.gpus, r.site_id, *window)
                r = replace(r, job_name=r.job_id) if blind else r
                items.append(UsageItem(r, projects.get(r.project_id, r.project_id), *window, gpu_s, fp))
        return UsageReport(org, start, end, tuple(items))

    def org_for(self, who: Principal, org_ref: str | None) -> Organization:
        """The org a billing read is about: tenants their own (by name or id), operators any."""
        require(who, Action.CONTRACT_READ)
        ref = org_ref or who.org_id
        if ref is None:
            raise InvalidInput("operators must name an organization (--org)", field="org")
        with self.db.transaction() as s:
            org = tenancy_repo.find_org(s, ref)
        if org is None or not (who.is_operator or who.org_id == org.id):
            raise NotFound(f"organization '{ref}' not found", field="org")
        return org

    def idle(self, who: Principal, start: datetime, end: datetime) -> list[IdleSite]:
        """Operator view: per site, capacity not used by any job in [start, end), and its energy."""
        if not who.is_operator:
            raise NotFound("not found")
        start, end = as_utc(start), as_utc(end)
        self.collect()
        now = self.clock.now()
        with self.db.transaction() as s:
            records = repo.records(s, org_id=None, lo=start, hi=end)
        out = []
        for site in self.fleet.sites:
            found = self.power(site.id)
            capacity = site.gpu_count * int((end - start).total_seconds())
            busy = sum(r.gpu_seconds(start, end, now) for r in records if r.site_id == site.id)
            fp = idle_footprint(max(0, capacity - busy), found[0], site.pue, site.grid_gco2e_per_kwh) if found \
                else Footprint()  # fmt: skip
            out.append(IdleSite(site.id, capacity, busy, fp))
        return out


def as_utc(at: datetime) -> datetime:
    """A query time without an offset is read as UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def load_intensity(path: Path | None) -> dict[str, dict[datetime, float]]:
    """The hourly grid-intensity series file (`site,hour,gco2e_per_kwh`), if configured."""
    if path is None:
        return {}
    try:
        return parse_intensity_csv(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read the grid intensity file: {exc}",
                           field="grid_intensity_file") from exc  # fmt: skip
    except ValueError as exc:
        raise InvalidInput(str(exc), field="grid_intensity_file") from exc
