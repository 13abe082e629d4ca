"""`brique up --workers N`: N processes serve one port, as replicas of one database.

One process runs the API, the scheduling loop and everything else under one interpreter lock, so
it tops out near one core. With `--workers N` the process that was started (the first worker)
migrates the database, loads the fleet and binds the port, then starts N-1 more of itself. Every
worker binds the same address with `SO_REUSEPORT`, so the kernel spreads incoming connections over
them, and builds its own runtime; the replicas' election (`brique.services.replicas`: an flock beside
a SQLite file, an advisory lock on PostgreSQL) makes exactly one of them run the scheduling loop and
housekeeping, and the others take over if it dies.

The first worker supervises: a worker that exits is started again, and stopping the first (Ctrl-C,
SIGTERM) stops them all. If the first is killed outright, the kernel tells the others to stop
(`PR_SET_PDEATHSIG`), so no worker outlives it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from brique.store.host_coordination import sqlite_path

log = logging.getLogger("brique.workers")
WORKER_ENV = "BRIQUE_WORKER"  # set in the workers the first one starts: their index (1…N-1)
PARENT_ENV = "BRIQUE_WORKER_PARENT"  # the first worker's pid, checked once the death signal is armed
RESTART_GAP_S = 2.0  # a worker that keeps failing is started again at most this often
STOP_WAIT_S = 10.0
PR_SET_PDEATHSIG = 1


def shares_database(url: str) -> bool:
    """Whether several processes can serve `url`: PostgreSQL, or a SQLite file (not in memory)."""
    return url.startswith("postgresql") or sqlite_path(url) is not None


def worker_index() -> int:
    """0 in the process that was started; 1…N-1 in the workers it started."""
    return int(os.environ.get(WORKER_ENV, "0") or 0)


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port) that the other workers bind too (`SO_REUSEPORT`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def die_with_parent() -> None:
    """In a worker: ask the kernel for SIGTERM when the first worker dies; exit if it already has."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    parent = os.environ.get(PARENT_ENV)
    if parent and os.getppid() != int(parent):
        sys.exit(0)  # the first worker died before the signal was armed


class WorkerPool:
    """The workers the first one starts: each is `brique up <args>` with its index in the environment."""

    def __init__(self, count: int, args: Sequence[str], replica_id: str | None) -> None:
        self.count = count
        self.args = list(args)
        self.replica_id = replica_id
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._started_at: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # The supervisor thread starts every worker: PR_SET_PDEATHSIG fires when the thread that
        # started a process ends, and this thread lives until `stop`.
        self._thread = threading.Thread(target=self._supervise, name="brique-workers", daemon=True)
        self._thread.start()

    def _spawn(self, index: int) -> None:
        env = {**os.environ, WORKER_ENV: str(index), PARENT_ENV: str(os.getpid())}
        if self.replica_id:
            env["BRIQUE_REPLICA_ID"] = f"{self.replica_id}-{index}"[:40]
        cmd = [sys.executable, "-m", "brique.cli", "up", *self.args]
        # Its own process group: a Ctrl-C on the terminal reaches the first worker alone, which then
        # stops the others in order (rather than racing its own supervision to restart them).
        self._procs[index] = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, process_group=0)
        self._started_at[index] = time.monotonic()

    def _supervise(self) -> None:
        for index in range(1, self.count):
            self._spawn(index)
        while not self._stop.wait(0.5):
            for index, proc in list(self._procs.items()):
                if proc.poll() is None or self._stop.is_set():
                    continue
                if time.monotonic() - self._started_at[index] < RESTART_GAP_S:
                    continue
                log.warning("worker %d exited with status %s; starting it again", index, proc.returncode)
                self._spawn(index)
        self._terminate()

    def _terminate(self) -> None:
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + STOP_WAIT_S
        for proc in self._procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop(self) -> None:
        """Stop every worker (SIGTERM, then SIGKILL after `STOP_WAIT_S`) and wait for them."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S + 5)
            self._thread = None
