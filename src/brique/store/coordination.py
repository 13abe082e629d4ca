"""PostgreSQL as the replicas' only coordination service: a session advisory lock, and LISTEN/NOTIFY.

Both use their own connection outside SQLAlchemy's pool, because their meaning is tied to one
server session: the advisory lock lives exactly as long as its session (the server drops it the
moment a killed process's socket closes, or once TCP keepalives give up on a partitioned one),
and notifications arrive on the session that listens.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import psycopg
from sqlalchemy.engine import make_url

from brique.store.host_coordination import beside, file_lock, sqlite_path

log = logging.getLogger("brique.coordination")

# Both ends give up on a silent peer after ~5 s idle + 3 probes 2 s apart, or 10 s of unacked data.
KEEPALIVE = dict(keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=3,
                 tcp_user_timeout=10_000, connect_timeout=5)  # fmt: skip
SERVER_KEEPALIVE = (
    "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3"
)


def conninfo(sqlalchemy_url: str) -> str:
    """libpq's URI for a SQLAlchemy `postgresql+psycopg://` URL."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _connect(dsn: str) -> psycopg.Connection:
    conn = psycopg.connect(dsn, autocommit=True, **KEEPALIVE)
    conn.execute(SERVER_KEEPALIVE)
    return conn


class SessionLock:
    """`pg_try_advisory_lock(key)` held on a dedicated connection; losing the connection loses the lock."""

    def __init__(self, dsn: str, key: int) -> None:
        self.dsn = dsn
        self.key = key
        self._conn: psycopg.Connection | None = None

    def try_acquire(self) -> bool:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = _connect(self.dsn)
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        except psycopg.Error as exc:
            log.warning("leader lock: %s", exc)
            self.release()
            return False
        return bool(row and row[0])

    def held(self) -> bool:
        """Still ours: the session that took the lock answers and still holds it."""
        if self._conn is None:
            return False
        try:
            row = self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                " AND objid = %s AND granted", (self.key & 0xFFFFFFFF,),
            ).fetchone()  # fmt: skip
        except psycopg.Error as exc:
            log.warning("leader lock connection lost: %s", exc)
            self.release()
            return False
        return bool(row and row[0])

    def release(self) -> None:
        """Close the session: the server releases the lock with it."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(psycopg.Error):
                conn.close()


class Channel:
    """One LISTEN/NOTIFY channel: `notify()` from any thread; `listen()` runs `on_message` per notification."""

    def __init__(self, dsn: str, name: str) -> None:
        self.dsn = dsn
        self.name = name
        self._send: psycopg.Connection | None = None
        self._send_lock = threading.Lock()

    def notify(self, payload: str = "") -> None:
        with self._send_lock:
            try:
                if self._send is None or self._send.closed:
                    self._send = _connect(self.dsn)
                self._send.execute("SELECT pg_notify(%s, %s)", (self.name, payload))
            except psycopg.Error as exc:  # a lost wake-up only delays a cycle to the next tick
                log.warning("notify on %s failed: %s", self.name, exc)
                self._send = None

    def listen(
        self,
        on_message: Callable[[str], None],
        stop: threading.Event,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        """Blocks until `stop` is set; reconnects after a lost connection. Every replica listens
        (`active` is not needed: a notification reaches all of them, and followers ignore it)."""
        while not stop.is_set():
            try:
                with _connect(self.dsn) as conn:
                    conn.execute(f'LISTEN "{self.name}"')
                    while not stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            on_message(note.payload)
            except psycopg.Error as exc:
                log.warning("listen on %s: %s; reconnecting", self.name, exc)
                stop.wait(1.0)

    def close(self) -> None:
        with self._send_lock:
            if self._send is not None:
                self._send.close()
                self._send = None


STARTUP_KEY = 0x42726970  # serializes migrations and the fleet sync of replicas starting together


@contextmanager
def startup_lock(sqlalchemy_url: str) -> Iterator[None]:
    """One replica at a time migrates and syncs the fleet: on PostgreSQL by an advisory lock, on a
    SQLite file by an flock beside it; a no-op for an in-memory database."""
    if not sqlalchemy_url.startswith("postgresql"):
        db_file = sqlite_path(sqlalchemy_url)
        if db_file is None:
            yield
            return
        with file_lock(beside(db_file, "startup.lock")):  # the engine made the database's dir
            yield
        return
    with _connect(conninfo(sqlalchemy_url)) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (STARTUP_KEY,))
        yield  # the lock ends with the session
