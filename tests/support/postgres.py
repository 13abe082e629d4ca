"""A private, throwaway PostgreSQL server for the test suite (Debian's server binaries).

Own data dir, a free port on 127.0.0.1, trust auth on loopback only; stopped at the
end of the session. As root (CI), the server runs as the `postgres` system user,
since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.support.procs import tree_cpu_s


def find_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="brique-pg-"))
        self.datadir = self.root / "data"
        self.run_as = "postgres" if os.geteuid() == 0 else None

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        return ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    def start(self) -> None:
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            self._cmd("initdb", "-D", str(self.datadir), "-U", "brique", "--auth=trust", "-E", "UTF8", "--no-sync"),
            check=True, capture_output=True,
        )  # fmt: skip
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c fsync=off -c full_page_writes=off"
        subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.datadir), "-o", opts, "-l", str(self.root / "log"), "-w", "start"),
            check=True, capture_output=True,
        )  # fmt: skip
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not start; log: {(self.root / 'log').read_text()}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://brique@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=brique dbname=postgres", autocommit=True
        ) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def cpu_s(self) -> float:
        """CPU seconds used so far by this server's processes (the postmaster and its children), from
        /proc: for benchmarks, the database's share of the work, steadier than wall time on a shared machine."""
        return tree_cpu_s(int((self.datadir / "postmaster.pid").read_text().split()[0]))

    def stop(self) -> None:
        subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "stop"), capture_output=True
        )
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def server_for(db: str) -> Iterator[PostgresServer | None]:
    """A private PostgreSQL, started and stopped, when `db` is "postgresql"; None for SQLite.
    For benchmarks: exits with a message when the server binaries are missing."""
    if db != "postgresql":
        yield None
        return
    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL server binaries not found (apt-get install postgresql)")
    pg = PostgresServer(bindir)
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()
