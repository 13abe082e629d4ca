"""SQLite writers of one process queue on the process's own lock (not SQLite's sleeping busy handler):
concurrent writers all succeed, readers are never held up by a writer, the lock is released after a
commit, a rollback or a failed statement; synchronous is FULL unless asked otherwise."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from brique.errors import Duplicate, InvalidInput
from brique.store.db import Database


def _db(tmp_path: Path, synchronous: str = "full") -> Database:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}", synchronous)
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)"))
    return db


def _count(db: Database) -> int:
    with db.transaction() as s:
        return int(s.execute(text("SELECT count(*) FROM t")).scalar_one())


def test_concurrent_writers_all_commit_and_errors_release_the_lock(tmp_path: Path) -> None:
    db = _db(tmp_path)
    with pytest.raises(Duplicate), db.transaction() as s:  # a failed write rolls back, releasing the lock
        s.execute(text("INSERT INTO t VALUES (1, 1)"))
        s.execute(text("INSERT INTO t VALUES (1, 2)"))
    failures: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for _ in range(10):
                with db.transaction() as s:
                    s.execute(text("SELECT count(*) FROM t"))  # a read first, then the write
                    s.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": i})
        except BaseException as exc:  # collected: an assertion in a thread would be lost
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failures and _count(db) == 80


def test_a_reader_is_not_held_up_by_an_open_write(tmp_path: Path) -> None:
    db = _db(tmp_path)
    writing, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with db.transaction() as s:
            s.execute(text("INSERT INTO t (v) VALUES (1)"))
            writing.set()
            release.wait(30)

    writer = threading.Thread(target=long_write)
    writer.start()
    assert writing.wait(30)
    assert _count(db) == 0  # WAL: the reader sees the last commit at once, the writer still open
    release.set()
    writer.join(30)
    assert _count(db) == 1


@pytest.mark.parametrize(("mode", "level"), [("full", 2), ("normal", 1)])
def test_synchronous_is_full_unless_asked(tmp_path: Path, mode: str, level: int) -> None:
    db = _db(tmp_path, mode)
    with db.transaction() as s:
        assert s.execute(text("PRAGMA synchronous")).scalar_one() == level


def test_an_unknown_synchronous_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="full, normal"):
        Database(f"sqlite:///{tmp_path / 'x.db'}", "off")
