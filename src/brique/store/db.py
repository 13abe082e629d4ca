"""Engine, sessions and migrations. SQLite (WAL, foreign keys, busy timeout) or PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from brique.errors import Duplicate, InvalidInput, Unavailable
from brique.store.host_coordination import beside, open_private, sqlite_path

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


SQLITE_SYNCHRONOUS = ("full", "normal")
_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)  # what opens a write transaction


class _Connection(sqlite3.Connection):
    """A SQLite connection whose writers queue on a lock of this process (one per database file)
    instead of SQLite's busy handler, which polls with sleeps of up to 100 ms: the next writer starts
    the moment the previous one commits. pysqlite opens the transaction at the first INSERT, UPDATE,
    DELETE or REPLACE (reads before it take no lock), so that is where the lock is taken; it is
    released after the commit or rollback. Between processes (`brique up --workers`, replicas of one
    file) the writer then also takes an `flock` beside the database, so a writer of another process
    likewise starts the moment the previous one commits; a process that takes no flock (the sqlite3
    shell, say) still meets SQLite's own lock and busy timeout."""

    writers: threading.Lock
    owner: list[int | None]  # thread holding `writers` (shared by every connection of the file)
    lock_path: str | None  # the file whose flock orders writers across processes
    _holds = False
    _lock_fd: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.lock_path is not None:
            self._lock_fd = open_private(self.lock_path)

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _Cursor)

    def will_run(self, sql: str) -> None:
        if self._holds or not _WRITES.match(sql) or self.owner[0] == threading.get_ident():
            return  # already writing, not a write, or this thread's other connection writes (SQLite decides)
        self.writers.acquire()
        if self._lock_fd is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            except BaseException:
                self.writers.release()
                raise
        self.owner[0], self._holds = threading.get_ident(), True

    def done(self) -> None:
        if self._holds:
            self._holds, self.owner[0] = False, None
            if self._lock_fd is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            self.writers.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.done()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.done()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.done()
            fd, self._lock_fd = self._lock_fd, None
            if fd is not None:
                os.close(fd)


class _Cursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection.will_run(sql)  # type: ignore[attr-defined]
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection.will_run(sql)  # type: ignore[attr-defined]
        return super().executemany(sql, seq_of_parameters)


def make_engine(url: str, sqlite_synchronous: str = "full") -> Engine:
    """Create an engine; for SQLite, the parent dir is created and WAL is switched on."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, sqlite_synchronous)
    if url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise InvalidInput(f"unsupported database URL scheme in {url.split(':', 1)[0]!r}", field="db_url")


def _sqlite_engine(url: str, synchronous: str) -> Engine:
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise InvalidInput(f"must be one of {', '.join(SQLITE_SYNCHRONOUS)}", field="sqlite_synchronous")
    db_file = sqlite_path(url)
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
    lock_path = str(beside(db_file, "writer.lock")) if db_file is not None else None
    factory = type(
        "Connection", (_Connection,), {"writers": threading.Lock(), "owner": [None], "lock_path": lock_path}
    )
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30, "factory": factory})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # FULL: each commit reaches the disk before the API answers (an accepted job survives a power
        # loss); NORMAL in WAL mode survives a crash of the process but not of the machine
        # (docs/operations.md)
        cur.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cur.close()

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise Unavailable(f"cannot reach the database: {exc.orig}") from exc


class Database:
    """Owns the engine and hands out short transactions."""

    def __init__(self, url: str, sqlite_synchronous: str = "full") -> None:
        self.url = url
        self.engine = make_engine(url, sqlite_synchronous)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(
        self, duplicate: str = "this would duplicate an existing record", field: str | None = None
    ) -> Iterator[Session]:
        """One unit of work. A unique-constraint violation (e.g. two concurrent creates of one
        name) becomes `Duplicate` with `duplicate` as its message: `IntegrityError` never leaves the store."""
        try:
            with self._sessions.begin() as session:
                yield session
        except IntegrityError as exc:
            raise Duplicate(duplicate, field=field) from exc

    def ping(self) -> str:
        """The dialect's name once a `SELECT 1` answered; `Unavailable` when it does not."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure means "not ready"
            raise Unavailable(f"database not reachable: {type(exc).__name__}") from exc
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()
