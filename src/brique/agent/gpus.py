"""How many GPUs this machine has: NVML where NVIDIA GPUs and `nvidia-ml-py` exist, else configured."""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger("brique.agent")


def nvml_gpu_count() -> int | None:
    """GPUs seen by NVML, or None where NVML is not available (no driver, no package)."""
    try:
        pynvml = importlib.import_module("pynvml")  # optional dependency: nvidia-ml-py
        pynvml.nvmlInit()
    except Exception as exc:  # ImportError, NVMLError_LibraryNotFound, ...
        log.info("NVML not available (%s); using the configured GPU count", type(exc).__name__)
        return None
    try:
        return int(pynvml.nvmlDeviceGetCount())
    finally:
        pynvml.nvmlShutdown()


def discover_gpus(configured: int | None) -> int:
    """NVML's count when it answers; otherwise `configured` (virtual GPUs for machines without any)."""
    found = nvml_gpu_count()
    if found is not None:
        return found
    if configured is None:
        raise ValueError("no GPUs found through NVML; give --gpus N to run with N virtual GPUs")
    return configured
