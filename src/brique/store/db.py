"""Engine, sessions and migrations. SQLite (WAL, foreign keys, busy timeout) or PostgreSQL."""

from __future__ import annotations

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

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    """Create an engine; for SQLite, the parent dir is created and WAL is switched on."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    if url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise InvalidInput(f"unsupported database URL scheme in {url.split(':', 1)[0]!r}", field="db_url")


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
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

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
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
