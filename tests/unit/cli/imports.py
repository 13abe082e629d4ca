"""Run `brique ARGS...` in a fresh interpreter and return the modules it imported (no timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Writes sorted(sys.modules) when the interpreter exits, whatever the exit code: client commands
# end with os._exit (no teardown, so no atexit), the others normally.
PROBE = """
import atexit, json, os, sys
def probe():
    open(os.environ["BRIQUE_PROBE_OUT"], "w").write(json.dumps(sorted(sys.modules)))
def probe_exit(code, _exit=os._exit):
    probe()
    _exit(code)
os._exit = probe_exit
atexit.register(probe)
sys.argv = ["brique", *sys.argv[1:]]
from brique.cli.main import main
main()
"""
SERVER_SIDE = ("sqlalchemy", "fastapi", "starlette", "uvicorn", "alembic", "matplotlib", "psycopg")
SERVER_MODULES = ("brique.store", "brique.services", "brique.api", "brique.workers", "brique.server")


def run_probed(
    tmp: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    out = tmp / f"modules-{len(list(tmp.glob('modules-*')))}.json"
    run_env = {**os.environ, "BRIQUE_CONFIG": str(tmp / "no-profile.json"), "BRIQUE_PROBE_OUT": str(out),
               "COLUMNS": "120", **(env or {})}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", PROBE, *args], env=run_env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    return done, set(json.loads(out.read_text()))


def server_side(modules: set[str]) -> list[str]:
    """The server's modules (and their libraries) among these."""
    return sorted(m for m in modules if m.split(".")[0] in SERVER_SIDE or m.startswith(SERVER_MODULES))
