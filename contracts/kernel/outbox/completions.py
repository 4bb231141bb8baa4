"""Completion marks of the fast path that the handler's transaction cannot write, flushed in batches.

Across two SQLite files (or two PostgreSQL servers) the handler's transaction cannot mark the
publisher's publication completed, so the mark is a write of its own on the publisher's database:
one statement and one durable commit per event, a third of what the outbox adds to an event. The
fast path (``processing.deliver_claimed``) therefore leaves those marks here, and they are written
together, one compare-and-set ``UPDATE ... WHERE id IN (...) AND claimed_by = <this process>`` per
database:

* in the next write transaction this process opens on that database once ``COMPLETION_BATCH``
  marks wait for it, or the oldest has waited half of ``COMPLETION_DELAY`` (``ride``: the next
  publish's transaction writes them before its own INSERT,
  so they cost a statement and no commit of their own, and take no lock of their own);
* ``COMPLETION_DELAY`` seconds after the first of them, by a flusher thread of this process,
  when no transaction came (or ``BACKLOG`` batches wait: then at once, still by that thread);
* before a publication this process wrote held back behind one of them is dispatched (ordering:
  the later event of a key then goes at once, not after the delay); by ``relay_once`` in this
  process; by ``testing.deliver_pending``; and at exit (of the interpreter, and of a Celery worker
  process).

A flush of every alias also waits for the write the flusher thread has in flight (up to
``EXIT_WAIT`` seconds): at exit that thread is a daemon, and the marks it took would otherwise die
with it, leaving their publications ``processing`` until their lease runs out, for example when
three gunicorn workers stop at once and their last writes queue for one SQLite file's lock.

Why a waiting mark is safe: until it is written the publication stays ``processing``, claimed by
this process under its lease (``LEASE``, 60 s by default, far longer than the delay), and nobody
else may claim it. If the process dies first the lease runs out, the relay takes the publication
back and delivers it again, and the inbox row the handler committed drops that duplicate: the
effect still happens once. A later event of the same key, written while the mark waits, is held
back as behind any open publication and released when the mark is written (``holds_back``).

A Celery worker defers the marks of the publications it got already claimed from the publisher
(``processing.process_dispatched``) the same way: they wait under the claim their messages carry
(the publisher's dispatcher's, not this process's), so marks are kept, and written, per database
and claim.

Why no request thread writes a full batch in a transaction of its own any more: that write (about
2 ms per 100 marks on a busy machine) landed on one event in a hundred, a good part of SQLite's
p99, and handing it to the flusher thread at once only moves the cost: the next request then waits
for that thread's write lock, and SQLite's busy handler sleeps at least a millisecond each time it
loses it. Riding on the next transaction takes no lock that transaction does not already hold and
saves the commit. A ride that rolls back loses nothing: the marks stay in ``_riding`` until that
transaction's commit callback drops them, and a rolled-back transaction's callback never runs, so
the flusher writes them after their delay. A ride whose transaction is still open when they come
due is written again by the flusher too, a compare-and-set that then finds nothing to do.

``COMPLETION_DELAY = 0`` writes each mark right after its handler, as a separate statement.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from functools import partial

from django.db import connections, transaction
from django.utils import timezone

from ..models import Publication
from .config import outbox_settings
from .statements import complete_publications

log = logging.getLogger("seams.outbox")

#: How long a flush of every alias waits for the flusher thread's write in flight. Beyond it the
#: marks are the relay's, after their lease; SQLite's busy timeout (20 s) is the usual bound.
EXIT_WAIT = 30.0

#: So many batches of marks waiting for one database (no transaction came to take them) make the
#: flusher thread write them at once instead of after the delay.
BACKLOG = 4

#: How many times in a row the flusher thread tries a write that fails before leaving the marks to
#: the relay.
RETRIES = 3

#: With nothing waiting, the flusher thread looks again every ``COMPLETION_DELAY`` this many times
#: before it waits to be woken: while marks keep coming (a busy process: the next batch starts
#: right after a ride took the last one), ``add`` need not wake it, and a wake-up hands it the GIL
#: (on a loaded machine the publishing thread then waited up to 20 ms for it back).
IDLE_POLLS = 8


#: Marks wait per database alias and claim (the ``claimed_by`` their compare-and-set checks).
_Key = tuple[str, str]


class DeferredCompletions:
    """The marks waiting per database alias and claim, and the thread that writes them when they are due."""

    def __init__(self, writer: Callable[[str, list[Publication], str], None] | None = None) -> None:
        self._writer = writer or write
        self._lock = threading.Lock()
        self._due = threading.Condition(self._lock)
        self._written = threading.Condition(self._lock)  # notified when the flusher thread's write ends
        self._marks: dict[_Key, list[Publication]] = {}
        self._since: dict[_Key, float] = {}  # (alias, claim) -> monotonic time of its oldest waiting mark
        self._in_flight = 0  # writes the flusher thread has taken marks for and not finished
        self._thread: threading.Thread | None = None
        # Marks written in a transaction that has not committed yet (``ride``): ride id -> (key,
        # marks, time of the ride), dropped by its commit callback, else written a delay after the ride.
        self._riding: dict[int, tuple[_Key, list[Publication], float]] = {}
        self._rides = 0
        self._urgent = False  # BACKLOG reached: the flusher thread writes without waiting for the delay
        self._failures: dict[_Key, int] = {}  # the flusher thread's failed writes in a row, per key
        # Per alias, (marks waiting, monotonic time of the oldest): what ``ride`` asks first, without
        # the lock. Replaced whole under the lock whenever marks come or go (``_tally_of``).
        self._tally: dict[str, tuple[int, float]] = {}
        # When the flusher thread looks at the marks next, at the latest (monotonic; 0 while it is
        # not waiting: it looks before it waits again; inf while it waits to be woken). A first
        # mark due after that needs no notify. Under the lock.
        self._wakes_at = 0.0
        # The flusher thread's own: the earliest ``close_at`` (monotonic, Django's, from
        # ``CONN_MAX_AGE``) of the connections it keeps open while idle; None when it keeps none
        # that expire (``_release``).
        self._close_at: float | None = None
        self._closing = False  # ``close_connections`` asks the thread to close every connection it has

    def add(self, alias: str, publications: list[Publication], worker: str) -> None:
        """Mark ``publications`` (claimed by ``worker`` and handled) completed, now or soon."""
        if not publications:
            return
        config = outbox_settings()
        if config.completion_wait <= 0:
            self._writer(alias, publications, worker)
            return
        key = (alias, worker)
        with self._lock:
            idle = not self._since  # the flusher thread waits for a first mark, with no deadline
            marks = self._marks.setdefault(key, [])
            if not marks:
                self._since[key] = time.monotonic()
            marks.extend(publications)
            tally = self._tally.get(alias)  # its oldest is older than any mark added since
            self._tally[alias] = (len(marks), self._since[key]) if tally is None else (tally[0] + len(publications), tally[1])
            if len(marks) >= BACKLOG * config.completion_batch and not self._urgent:
                self._urgent = True  # no transaction came for them: the thread writes them now
                self._start()
                self._due.notify()
            elif idle:
                # Wake the thread only to give it its deadline: a mark added while it waits for an
                # earlier one's changes nothing, and each wake-up would hand it the GIL (about a
                # millisecond of this thread's time on a busy machine). Nor when it looks again
                # before this mark is due anyway: it waits for an earlier deadline (a ride took the
                # last batch), or polls (``IDLE_POLLS``), or is not waiting.
                self._start()
                if self._wakes_at > self._since[key] + config.completion_wait:
                    self._due.notify()

    def ride(self, alias: str) -> None:
        """In a write transaction on ``alias`` (the publisher's, before its INSERT): if at least
        ``COMPLETION_BATCH`` marks wait for ``alias``, or the oldest of them has waited half of
        ``COMPLETION_DELAY``, write them here, one compare-and-set UPDATE
        per claim, committed (or rolled back) with the transaction. Once it commits, the next event
        of each key one of them held back is dispatched; until then they are kept (``_riding``), and
        the flusher thread writes them when due if the transaction never commits."""
        # First, without the lock (every publish asks, and the flusher thread may hold it): is
        # anything due for ``alias``? The tally is replaced whole under the lock, so what is read
        # here is one state it had; if that is stale, the worst is a ride skipped, and the marks
        # then ride on the next transaction or are written by the flusher thread after their delay.
        tally = self._tally.get(alias)
        if tally is None:
            return
        config = outbox_settings()
        if tally[0] < config.completion_batch and tally[1] + config.completion_wait / 2 > time.monotonic():
            return
        with self._lock:
            keys = [key for key, marks in self._marks.items() if key[0] == alias and marks]
            if not keys:
                return
            # A batch, or marks half their delay old (a slow or busy process fills no batch within
            # the delay): taken here rather than by the flusher thread, whose write would then
            # compete with this process's next transactions for the lock.
            now = time.monotonic()
            ripe = min(self._since.get(key, now) for key in keys) + config.completion_wait / 2 <= now
            if not ripe and sum(len(self._marks[key]) for key in keys) < config.completion_batch:
                return
            rides = {}  # a ride that never commits is written a delay after it
            for key in keys:
                self._rides += 1
                rides[self._rides] = (key, self._take(key), now)
            self._riding.update(rides)
            # No notify: the flusher thread already waits with a deadline (these marks were in
            # ``_since``, and the first of them woke it), at most that of the oldest mark taken,
            # so never later than this ride's (its delay from now); when it wakes it finds the ride
            # in ``_riding`` and waits for its deadline. A notify would only hand it the GIL now.
            self._start()
        held: list[Publication] = []
        try:
            now = timezone.now()
            for (_, worker), publications, _ in rides.values():
                waiting = set(complete_publications(alias, [p.pk for p in publications], now, claimed_by=worker))
                held += [p for p in publications if p.pk in waiting]
        except Exception:  # the transaction is broken: the marks stay for the flusher thread
            with self._lock:
                self._urgent = True
                self._start()
                self._due.notify()
            raise
        transaction.on_commit(partial(self._rode, alias, list(rides), held), using=alias)

    def _rode(self, alias: str, rides: list[int], held: list[Publication]) -> None:
        """A ride's transaction committed: its marks are written; what they held back can go."""
        from .processing import _dispatch_next_of_key  # processing uses this module

        with self._lock:
            for ride in rides:
                self._riding.pop(ride, None)
        # Also when the flusher thread took them meanwhile: its compare-and-set finds them done
        # and dispatches nothing.
        for publication in held:
            _dispatch_next_of_key(alias, publication)

    def waiting(self, alias: str) -> bool:
        """Do marks wait for ``alias``?"""
        with self._lock:
            return any(marks for (name, _), marks in self._marks.items() if name == alias) or any(
                key[0] == alias for key, _, _ in self._riding.values()
            )

    def flush(self, alias: str | None = None, timeout: float = EXIT_WAIT) -> None:
        """Write the marks waiting for ``alias`` (default: every alias) now.

        A flush of every alias returns once the flusher thread's write in flight, if any, has
        ended too (or after ``timeout`` seconds): when it returns, every mark this process had is
        written, which exit and the counting commands rely on."""
        with self._lock:
            taken = self._take_riding(alias)
            for key in list(self._marks):
                if alias in (None, key[0]) and self._marks[key]:
                    taken.append((key, self._take(key)))
        for (name, worker), publications in taken:
            self._writer(name, publications, worker)
        if alias is None:
            with self._lock:
                if not self._written.wait_for(lambda: not self._in_flight, timeout):
                    log.warning("The completion marks being written were not written within %s s; the relay will see to them.", timeout)

    def discard(self) -> None:
        """Forget every waiting mark (their publications are recovered by the relay after their lease)."""
        with self._lock:
            self._marks.clear()
            self._since.clear()
            self._riding.clear()
            self._tally.clear()

    def _take_riding(self, alias: str | None = None, until: float = float("inf")) -> list[tuple[_Key, list[Publication]]]:
        """Take the riding marks of ``alias`` (default: every alias) that rode at ``until`` or
        before: their transaction did not commit (yet)."""
        rides = [ride for ride, (key, _, since) in self._riding.items() if alias in (None, key[0]) and since <= until]
        return [self._riding.pop(ride)[:2] for ride in rides]

    def _take(self, key: _Key) -> list[Publication]:
        self._since.pop(key, None)
        taken = self._marks.pop(key, [])
        self._tally_of(key[0])
        return taken

    def _tally_of(self, alias: str) -> None:
        """Work ``alias``'s tally out again from the marks (under the lock; when marks are taken or put back)."""
        keys = [key for key, marks in self._marks.items() if key[0] == alias and marks]
        if keys:
            self._tally[alias] = (sum(len(self._marks[key]) for key in keys), min(self._since.get(key, 0.0) for key in keys))
        else:
            self._tally.pop(alias, None)

    def close_connections(self, timeout: float = 5.0) -> bool:
        """Have the flusher thread close every database connection it keeps (at exit, before a
        test database is dropped); they are the thread's (Django's are per thread), so it closes
        them itself, once its write in flight, if any, ended. False if it did not within ``timeout``."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                return True
            self._closing = True
            self._due.notify()
            return self._written.wait_for(lambda: not self._closing, timeout)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="seams-completions", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        """The flusher thread: writes each alias's (and claim's) marks ``COMPLETION_DELAY`` after the first."""
        while True:
            with self._lock:
                polls = 0
                while not self._since and not self._riding and not self._closing:
                    # A mark added while this waits at most ``poll`` is seen before it is due (it
                    # is due ``poll`` after it came): ``add`` need not notify (``_wakes_at``).
                    poll = outbox_settings().completion_wait
                    polls += 1
                    if polls <= IDLE_POLLS and poll > 0:
                        self._wait(poll)
                    elif self._close_at is None:
                        self._wait(None)
                    elif self._close_at > time.monotonic():  # a kept connection: no longer than its CONN_MAX_AGE
                        self._wait(self._close_at - time.monotonic())
                    else:
                        break
                closing = self._closing
                release = closing or (not self._since and not self._riding)
                if not release:
                    wait = outbox_settings().completion_wait
                    delay = 0.0 if self._urgent else wait
                    self._urgent = False
                    now = time.monotonic()
                    taken = self._take_riding(until=now - wait)  # never sooner: their transaction may still be open
                    taken += [(key, self._take(key)) for key, since in list(self._since.items()) if since + delay <= now]
                    if not taken:
                        oldest = min([*self._since.values(), *(since for _, _, since in self._riding.values())])
                        self._wait(max(oldest + delay - now, 0.001))
                        continue
                    self._in_flight += 1
            if release:  # outside the lock: a close is a round trip to PostgreSQL
                self._release(everything=closing)
                if closing:
                    with self._lock:
                        self._closing = False
                        self._written.notify_all()
                continue
            try:
                for (alias, worker), publications in taken:
                    try:
                        connections[alias].close_if_unusable_or_obsolete()
                        self._writer(alias, publications, worker)
                        self._failures.pop((alias, worker), None)
                    except Exception:
                        self._failed(alias, worker, publications)
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._written.notify_all()
                    idle = not self._since and not self._riding
                if idle:
                    # Nothing waits: this thread's connections are kept as ``CONN_MAX_AGE`` says, as
                    # a request's are (``0``, the default: closed until marks come again).
                    self._release()

    def _release(self, everything: bool = False) -> None:
        """The flusher thread, idle: close its connections that outlived ``CONN_MAX_AGE``, were
        left in a transaction or with an error that broke them (Django's per-request rule,
        ``close_if_unusable_or_obsolete``; ``everything``: all of them), and note when the first
        one kept expires, so that the idle thread wakes to close it then.

        Until 2026-12-02 every idle moment closed them all: with ``CONN_MAX_AGE = 60`` (the
        extracted services) a new PostgreSQL connection about every tenth order. A kept one holds
        no transaction (autocommit) and so no SQLite lock; ``close_connections`` closes them at
        exit and before a test database is dropped."""
        close_at = None
        for connection in connections.all(initialized_only=True):
            try:
                if everything:
                    connection.close()
                else:
                    connection.close_if_unusable_or_obsolete()
            except Exception:  # a connection that cannot even close: Django forgets it anyway
                log.debug("Could not close the completion flusher's connection to %s.", connection.alias, exc_info=True)
            # Past its close_at yet open: an in-memory SQLite database, whose close() Django ignores.
            if connection.connection is not None and connection.close_at is not None and connection.close_at > time.monotonic():
                close_at = connection.close_at if close_at is None else min(close_at, connection.close_at)
        self._close_at = close_at

    def _wait(self, timeout: float | None) -> None:
        """The flusher thread waits (under the lock) up to ``timeout`` seconds, or until woken;
        ``_wakes_at`` says until when."""
        self._wakes_at = float("inf") if timeout is None else time.monotonic() + timeout
        try:
            self._due.wait(timeout)
        finally:
            self._wakes_at = 0.0

    def _failed(self, alias: str, worker: str, publications: list[Publication]) -> None:
        """A write of the flusher thread failed (the file busy beyond its timeout, a connection
        lost): the marks wait again, written a delay later, up to ``RETRIES`` times in a row; then
        they are the relay's (after their lease it redelivers them; the inbox drops the duplicate)."""
        key = (alias, worker)
        with self._lock:
            failures = self._failures[key] = self._failures.get(key, 0) + 1
            if failures <= RETRIES:
                marks = self._marks.setdefault(key, [])
                self._since.setdefault(key, time.monotonic())
                marks.extend(publications)
                self._tally_of(alias)
        if failures <= RETRIES:
            log.warning("Could not mark %s publications of %s completed (attempt %s); trying again.", len(publications), alias, failures, exc_info=True)
        else:
            self._failures.pop(key, None)
            log.exception("Could not mark %s publications of %s completed; the relay will see to them.", len(publications), alias)

    def _forget(self) -> None:
        """In a forked child: the parent's marks are the parent's to write, and its thread is gone."""
        self._lock = threading.Lock()
        self._due = threading.Condition(self._lock)
        self._written = threading.Condition(self._lock)
        self._marks, self._since, self._thread, self._in_flight = {}, {}, None, 0
        self._riding, self._urgent, self._failures, self._tally = {}, False, {}, {}
        self._wakes_at = 0.0
        self._close_at, self._closing = None, False


def write(alias: str, publications: list[Publication], worker: str) -> None:
    """One compare-and-set UPDATE for ``publications`` (only those ``worker`` still holds), then
    the next event of each key one of them held back is dispatched."""
    from .processing import _dispatch_next_of_key  # processing uses this module

    waiting = set(complete_publications(alias, [p.pk for p in publications], timezone.now(), claimed_by=worker))
    for publication in publications:
        if publication.pk in waiting:
            _dispatch_next_of_key(alias, publication)


#: This process's waiting marks.
deferred = DeferredCompletions()


def _flush_at_exit() -> None:
    try:
        deferred.flush()
    except Exception:  # the relay redelivers them after their lease; the inbox drops the duplicate
        log.exception("Could not write the waiting completion marks at exit; the relay will see to them.")
    deferred.close_connections()  # the thread's kept ones (CONN_MAX_AGE): not left to the exit


atexit.register(_flush_at_exit)
os.register_at_fork(after_in_child=deferred._forget)
