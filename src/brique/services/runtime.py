"""Wiring: build the services the API needs from one `Settings` (migrate, load fleet, sync)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from brique.clock import Clock, SystemClock
from brique.config import Settings
from brique.services.fleet import FleetService, load_fleet_file
from brique.services.tenancy import TenancyService
from brique.store.db import Database, migrate


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    fleet: FleetService
    tenancy: TenancyService
    fleet_written: bool
    startup_s: float

    def close(self) -> None:
        self.db.dispose()


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    started = time.perf_counter()
    clock = clock or SystemClock()
    fleet = load_fleet_file(settings.fleet_file)
    db = Database(settings.database_url)
    try:
        migrate(db.engine)
        fleet_service = FleetService(db, clock, fleet)
        written = fleet_service.sync(str(settings.fleet_file))
    except Exception:
        db.dispose()
        raise
    return Runtime(
        settings=settings, db=db, clock=clock, fleet=fleet_service, tenancy=TenancyService(db, clock),
        fleet_written=written, startup_s=time.perf_counter() - started,
    )  # fmt: skip
