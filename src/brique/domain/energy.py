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

from dataclasses import dataclass

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
