"""Replicas: every `brique up` serves the API; exactly one leads (scheduling loop, housekeeping).

On PostgreSQL the leader is whoever holds a session advisory lock on its own connection (no other
coordination service). Taking the lock starts a new *term* in the lease row; every scheduling
transaction of the leader first renews the lease *for its term* (the fence), so after a takeover
the old leader's writes are refused even if it has not yet noticed (a stalled process, a network
partition): the new leader's claim waits on the row lock for any of them in flight, then bumps the
term. The lock dies with its session: a SIGKILLed leader's socket closes and the server releases
it at once; a partitioned one loses it once TCP keepalives give up (~11 s).

Wake-ups cross replicas by LISTEN/NOTIFY: a submit on any replica notifies the channel, and the
leader's listener wakes its loop.

Replicas of one SQLite file run on one host (`brique up --workers N`, or several `brique up` on
other ports): an `flock` beside the database elects (the kernel drops it with a dead process), the
same lease term fences, and a Unix datagram socket carries wake-ups (`brique.store.host_coordination`).
An in-memory database has one replica, which always leads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.domain.leadership import SCHEDULER_LEASE, Lease, ReplicaStatus
from brique.domain.tenancy import Principal
from brique.errors import NotLeader, OperatorOnly
from brique.store.coordination import Channel, SessionLock, conninfo
from brique.store.db import Database
from brique.store.host_coordination import FileLock, LocalChannel, beside, sqlite_path
from brique.store.repos import leases

log = logging.getLogger("brique.replicas")
LOCK_KEY = 0x42726971  # "Briq": one advisory lock per database
WAKE_CHANNEL = "brique_wake"
NOTIFY_GAP_S = 0.01  # one NOTIFY per this much time at most, however many submits wake us


class _Lock(Protocol):
    def try_acquire(self) -> bool: ...
    def held(self) -> bool: ...
    def release(self) -> None: ...


class _Channel(Protocol):
    def notify(self, payload: str = "") -> None: ...
    def listen(
        self, on_message: Callable[[str], None], stop: threading.Event, active: Callable[[], bool]
    ) -> None: ...
    def close(self) -> None: ...


class Leadership:
    """Base: the single replica of an in-memory database, which always leads."""

    shared = False  # whether other replicas may serve the same database

    def __init__(self, db: Database, clock: Clock, replica_id: str) -> None:
        self.db = db
        self.clock = clock
        self.replica_id = replica_id
        self.started_at = clock.now()

    def ensure(self) -> bool:
        """Called before each cycle: True if this replica leads now (taking the lead if it is free)."""
        return True

    def fence(self, session: Session) -> None:
        """First statement of a scheduling transaction: raise `NotLeader` if our term has ended."""

    def request_cycle(self) -> None:
        """Ask whichever replica leads to run a cycle soon (this one is woken by its caller)."""

    def start(self, on_wake: Callable[[], None]) -> None:
        """Begin listening for other replicas' wake-ups."""

    def stop(self) -> None:
        """Stop listening and hand the lead over (other replicas take it on their next try)."""

    def status(self, who: Principal) -> ReplicaStatus:
        if not who.is_operator:
            raise OperatorOnly("the replicas' status is for operators")
        return self._status()

    def _status(self) -> ReplicaStatus:
        me = Lease(SCHEDULER_LEASE, self.replica_id, 1, self.started_at, self.clock.now())
        return ReplicaStatus(self.replica_id, True, self.db.engine.dialect.name, me)


class SharedLeadership(Leadership):
    """Several replicas of one database: a lock elects (PostgreSQL's advisory lock, or an flock
    beside a SQLite file), the lease term fences, a channel carries wake-ups."""

    shared = True

    def __init__(self, db: Database, clock: Clock, replica_id: str, lock: _Lock, channel: _Channel) -> None:
        super().__init__(db, clock, replica_id)
        self._lock = lock
        self._channel = channel
        self._term: int | None = None
        self._stop = threading.Event()
        self._pending = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def leading(self) -> bool:
        return self._term is not None

    def ensure(self) -> bool:
        if self._term is not None:
            if self._lock.held():
                return True
            log.warning("replica %s lost the lead (term %d)", self.replica_id, self._term)
            self._term = None
        if not self._lock.try_acquire():
            return False
        try:
            with self.db.transaction() as s:
                lease = leases.claim(s, SCHEDULER_LEASE, self.replica_id, self.clock.now())
        except Exception:
            self._lock.release()  # let another replica try
            raise
        self._term = lease.term
        log.warning("replica %s leads (term %d)", self.replica_id, lease.term)
        return True

    def fence(self, session: Session) -> None:
        term = self._term
        if term is None or not leases.renew(session, SCHEDULER_LEASE, term, self.clock.now()):
            self._term = None
            raise NotLeader(f"leader term {term}")

    def request_cycle(self) -> None:
        self._pending.set()  # coalesced by the notifier thread

    def start(self, on_wake: Callable[[], None]) -> None:
        if self._threads:
            return
        self._stop.clear()

        def wake(_payload: str) -> None:
            if self.leading:
                on_wake()

        self._threads = [
            threading.Thread(target=self._channel.listen, args=(wake, self._stop, lambda: self.leading),
                             name="brique-listen", daemon=True),
            threading.Thread(target=self._notifier, name="brique-notify", daemon=True),
        ]  # fmt: skip
        for t in self._threads:
            t.start()

    def _notifier(self) -> None:
        while not self._stop.is_set():
            if self._pending.wait(0.5):
                self._pending.clear()
                if not self._stop.is_set():
                    self._channel.notify()
                self._stop.wait(NOTIFY_GAP_S)

    def stop(self) -> None:
        self._stop.set()
        self._pending.set()
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []
        self._term = None
        self._lock.release()
        self._channel.close()

    def _status(self) -> ReplicaStatus:
        with self.db.transaction() as s:
            lease = leases.current(s, SCHEDULER_LEASE)
        return ReplicaStatus(self.replica_id, self.leading, self.db.engine.dialect.name, lease)


def build_leadership(db: Database, clock: Clock, replica_id: str) -> Leadership:
    if db.engine.dialect.name == "postgresql":
        dsn = conninfo(db.url)
        return SharedLeadership(db, clock, replica_id, SessionLock(dsn, LOCK_KEY), Channel(dsn, WAKE_CHANNEL))
    db_file = sqlite_path(db.url)
    if db_file is not None:
        lock = FileLock(beside(db_file, "leader.lock"))
        return SharedLeadership(db, clock, replica_id, lock, LocalChannel(db_file, WAKE_CHANNEL))
    return Leadership(db, clock, replica_id)
