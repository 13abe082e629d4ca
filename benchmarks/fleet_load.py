"""Fleet loading: parse the default fleet, first start (insert) and second start (fingerprint hit).

Prints one JSON line of medians over several runs, on SQLite (and PostgreSQL when BRIQUE_BENCH_PG_URL
names an empty database). Usage: .venv/bin/python benchmarks/fleet_load.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from brique.config import DEFAULT_FLEET, Settings
from brique.domain.fleet_spec import parse_fleet
from brique.server.runtime import build_runtime


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def run_once(db_url: str, home: Path) -> tuple[float, float]:
    settings = Settings(home=home, db_url=db_url, fleet_file=DEFAULT_FLEET)
    first = build_runtime(settings)
    first.close()
    second = build_runtime(settings)
    second.close()
    assert first.fleet_written and not second.fleet_written
    return first.startup_s * 1000, second.startup_s * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    text = DEFAULT_FLEET.read_text()
    parse_ms = [timed(lambda: parse_fleet(yaml.safe_load(text))) for _ in range(args.runs)]
    result: dict[str, object] = {
        "fleet_gpus": 18_000,
        "runs": args.runs,
        "parse_ms_p50": round(statistics.median(parse_ms), 1),
    }
    firsts, seconds = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            f, s = run_once(f"sqlite:///{tmp}/b.db", Path(tmp))
            firsts.append(f)
            seconds.append(s)
    result |= {"sqlite_first_start_ms_p50": round(statistics.median(firsts), 1),
               "sqlite_second_start_ms_p50": round(statistics.median(seconds), 1)}  # fmt: skip
    pg = os.environ.get("BRIQUE_BENCH_PG_URL")
    if pg:
        with tempfile.TemporaryDirectory() as tmp:
            f, s = run_once(pg, Path(tmp))
        result |= {"postgresql_first_start_ms": round(f, 1), "postgresql_second_start_ms": round(s, 1)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
