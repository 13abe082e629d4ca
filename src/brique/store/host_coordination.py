"""SQLite replicas on one host: a file lock elects, a Unix datagram socket wakes.

Several `brique up` processes may serve one SQLite file (`--workers`, or replicas on several ports
behind a load balancer). They coordinate through the kernel only, the way PostgreSQL replicas do
through their database (`brique.store.coordination`):

- `FileLock`: an exclusive `flock` on a file beside the database, held by the leader's open file.
  The kernel drops it the moment the process dies, however it dies, so a follower takes the lead at
  its next try.
- `LocalChannel`: the leader binds a Unix datagram socket named after the database file (Linux's
  abstract namespace: no file to clean up after a crash); a submit on any process sends it one empty
  datagram. A datagram nobody receives is dropped: the leader's next tick finds the work anyway.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("brique.coordination")
WAIT_S = 0.5  # how often a listener re-checks whether it should (still) hold the socket


def sqlite_path(sqlalchemy_url: str) -> Path | None:
    """The database file of a `sqlite:///…` URL; None for an in-memory database or another dialect."""
    if not sqlalchemy_url.startswith("sqlite"):
        return None
    path = sqlalchemy_url.split("///", 1)[-1] if "///" in sqlalchemy_url else ""
    if not path or path == ":memory:" or path.startswith("file::memory:"):
        return None
    return Path(path).resolve()


def beside(db_file: Path, suffix: str) -> Path:
    """A companion file of the database (`brique.db-leader.lock`, …), private like the database."""
    return db_file.with_name(f"{db_file.name}-{suffix}")


def open_private(path: Path | str) -> int:
    """A companion file opened (created 0600) for an flock, not inherited by child processes (a
    job started by the local executor must not keep the leader's lock alive after the leader)."""
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


class FileLock:
    """An exclusive `flock` taken without waiting; held until `release()` or the process's end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._held = False
        self._mutex = threading.Lock()

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._held:
                return True
            try:
                if self._fd is None:
                    self._fd = open_private(self.path)
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            except OSError as exc:
                log.warning("leader lock %s: %s", self.path, exc)
                return False
            self._held = True
            return True

    def held(self) -> bool:
        """A live process never loses an flock it holds: only `release()` ends it."""
        return self._held

    def release(self) -> None:
        with self._mutex:
            fd, self._fd, self._held = self._fd, None, False
            if fd is not None:
                os.close(fd)  # closing the file drops the lock


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` for the block, waiting for it (startup, one at a time)."""
    fd = open_private(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _address(db_file: Path, name: str) -> str | bytes:
    digest = hashlib.sha256(str(db_file).encode()).hexdigest()[:24]
    if sys.platform.startswith("linux"):
        return f"\0brique-{name}-{digest}".encode()  # abstract: vanishes with the process
    return str(beside(db_file, f"{name}.sock"))


class LocalChannel:
    """Wake-ups between the processes of one host: `notify()` from anywhere, `listen()` on the leader."""

    def __init__(self, db_file: Path, name: str) -> None:
        self.address = _address(db_file, name)
        self._send = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
        self._send_lock = threading.Lock()

    def notify(self, payload: str = "") -> None:
        with self._send_lock:
            if self._send.fileno() < 0:
                return  # closed: this process is stopping
            try:
                self._send.sendto(payload.encode(), self.address)
            except (FileNotFoundError, ConnectionRefusedError, BlockingIOError):
                pass  # nobody leads right now, or the leader is already well woken
            except OSError as exc:
                log.warning("wake-up not sent: %s", exc)

    def listen(
        self, on_message: Callable[[str], None], stop: threading.Event, active: Callable[[], bool]
    ) -> None:
        """Blocks until `stop` is set; holds the socket only while `active()` (this process leads)."""
        sock: socket.socket | None = None
        try:
            while not stop.is_set():
                if not active():
                    sock = _close(sock)
                    stop.wait(WAIT_S)
                    continue
                if sock is None:
                    sock = self._bind()
                    if sock is None:
                        stop.wait(WAIT_S)
                        continue
                try:
                    data = sock.recv(256)
                except TimeoutError:
                    continue
                on_message(data.decode(errors="replace"))
        finally:
            _close(sock)

    def _bind(self) -> socket.socket | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if isinstance(self.address, str):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address)  # a socket file left by a dead leader
        try:
            sock.bind(self.address)
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE:
                log.warning("wake-up socket: %s", exc)
            return None
        sock.settimeout(WAIT_S)
        return sock

    def close(self) -> None:
        with self._send_lock:
            self._send.close()


def _close(sock: socket.socket | None) -> None:
    if sock is not None:
        sock.close()
    return None
