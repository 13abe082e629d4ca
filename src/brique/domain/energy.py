"""Energy and carbon of GPU work: pure functions, reused by the simulator and billing.

Model (documented in docs/simulation.md):

- A busy GPU draws its rated board power (`Rack.gpu_power_w`, 1,200 W for GB200) plus
  its share of the tray's overhead (Grace CPUs, NICs, DPUs, fans, and the tray's share
  of the rack's NVLink switch trays and power shelves).
- `DEFAULT_NODE_OVERHEAD_W` = 2,200 W per 4-GPU GB200 tray, so a full NVL72 rack draws
  72 x 1,200 W + 18 x 2,200 W = 86.4 kW + 39.6 kW = 126 kW, the middle of the
  120-132 kW NVIDIA quotes for a GB200 NVL72 rack.
- Facility energy = IT energy x the site's PUE; emissions (kgCO2e) = facility kWh x
  the site's grid intensity (gCO2e/kWh) / 1,000.

Idle GPUs are not charged here: the functions price the work that ran.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

DEFAULT_NODE_OVERHEAD_W = 2_200.0
SECONDS_PER_HOUR = 3_600.0


@dataclass(frozen=True, slots=True)
class PowerModel:
    """Electrical draw of one busy GPU: board power + its share of the tray overhead."""

    gpu_power_w: float
    gpus_per_node: int
    node_overhead_w: float = DEFAULT_NODE_OVERHEAD_W

    def __post_init__(self) -> None:
        if self.gpu_power_w < 0 or self.node_overhead_w < 0:
            raise ValueError("power must be >= 0")
        if self.gpus_per_node < 1:
            raise ValueError("gpus_per_node must be >= 1")

    @property
    def watts_per_gpu(self) -> float:
        return self.gpu_power_w + self.node_overhead_w / self.gpus_per_node


def rack_power_kw(
    gpu_power_w: float, gpus: int, nodes: int, node_overhead_w: float = DEFAULT_NODE_OVERHEAD_W
) -> float:
    """Draw of a fully busy rack in kW (GB200 NVL72 defaults: 126 kW)."""
    return (gpu_power_w * gpus + node_overhead_w * nodes) / 1_000.0


def it_kwh(gpu_seconds: float, model: PowerModel) -> float:
    """IT energy of `gpu_seconds` busy GPU-seconds."""
    return gpu_seconds * model.watts_per_gpu / SECONDS_PER_HOUR / 1_000.0


def facility_kwh(gpu_seconds: float, model: PowerModel, pue: float) -> float:
    """Energy at the meter: IT energy x PUE."""
    if pue < 1.0:
        raise ValueError("PUE must be >= 1.0")
    return it_kwh(gpu_seconds, model) * pue


def co2e_kg(kwh: float, grid_gco2e_per_kwh: float) -> float:
    """Emissions of `kwh` at a grid intensity in gCO2e/kWh."""
    return kwh * grid_gco2e_per_kwh / 1_000.0


# -- per job, with an hourly grid intensity ---------------------------------------------------

IDLE_POWER_FRACTION = 0.3  # an idle GPU (and its tray share) draws ~30% of its busy power


@dataclass(frozen=True, slots=True)
class Footprint:
    """Energy at the meter and emissions of some work (or of idle capacity)."""

    it_kwh: float = 0.0
    facility_kwh: float = 0.0
    co2e_kg: float = 0.0

    def __add__(self, other: Footprint) -> Footprint:
        return Footprint(self.it_kwh + other.it_kwh, self.facility_kwh + other.facility_kwh,
                         self.co2e_kg + other.co2e_kg)  # fmt: skip


@dataclass(frozen=True, slots=True)
class GridIntensity:
    """A site's grid intensity: a constant, overridden hour by hour by a series where it has one.

    hourly: {hour start (UTC, whole hour): gCO2e/kWh}.
    """

    constant: float
    hourly: Mapping[datetime, float] = field(default_factory=dict)

    def at(self, hour_start: datetime) -> float:
        return self.hourly.get(hour_start.replace(minute=0, second=0, microsecond=0), self.constant)


def footprint(
    gpus: int, start: datetime, end: datetime, model: PowerModel, pue: float, grid: GridIntensity
) -> Footprint:
    """Energy and emissions of `gpus` busy GPUs over [start, end), each hour at its own intensity."""
    it = fac = co2 = 0.0
    for lo, hi in _hours(start, end):
        gpu_s = gpus * (hi - lo).total_seconds()
        kwh = facility_kwh(gpu_s, model, pue)
        it += it_kwh(gpu_s, model)
        fac += kwh
        co2 += co2e_kg(kwh, grid.at(lo))
    return Footprint(it, fac, co2)


def idle_footprint(
    idle_gpu_s: float, model: PowerModel, pue: float, grid_gco2e_per_kwh: float,
    fraction: float = IDLE_POWER_FRACTION,
) -> Footprint:  # fmt: skip
    """Idle capacity (reported to the operator, never billed): a fraction of the busy draw."""
    it = it_kwh(idle_gpu_s, model) * fraction
    fac = it * pue
    return Footprint(it, fac, co2e_kg(fac, grid_gco2e_per_kwh))


def _hours(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    cur = start
    while cur < end:
        nxt = min(end, cur.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
        yield cur, nxt
        cur = nxt


def parse_intensity_csv(text: str, source: str = "intensity file") -> dict[str, dict[datetime, float]]:
    """`site,hour,gco2e_per_kwh` rows (hour: ISO 8601 UTC, e.g. 2026-11-02T09:00:00Z).

    Raises ValueError naming the file, line and column of every problem.
    """
    out: dict[str, dict[datetime, float]] = {}
    problems: list[str] = []
    rows = csv.DictReader(io.StringIO(text))
    missing = {"site", "hour", "gco2e_per_kwh"} - set(rows.fieldnames or ())
    if missing:
        raise ValueError(f"{source}: missing columns: {', '.join(sorted(missing))}")
    for line, row in enumerate(rows, start=2):
        try:
            hour = datetime.fromisoformat(row["hour"].replace("Z", "+00:00"))
            if hour.tzinfo is None:
                raise ValueError("hour must carry a UTC offset")
            value = float(row["gco2e_per_kwh"])
            if value < 0:
                raise ValueError("gco2e_per_kwh must be >= 0")
        except (ValueError, TypeError, AttributeError) as exc:
            problems.append(f"{source}: line {line}: {exc}")
            continue
        start = hour.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        out.setdefault(row["site"].strip(), {})[start] = value
    if problems:
        raise ValueError("\n".join(problems))
    return out
