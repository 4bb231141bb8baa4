"""kombu's Redis transport, with one fix: a worker holding unacknowledged tasks survives Redis
going away (named by ``CELERY_BROKER_TRANSPORT`` for ``redis://`` brokers, in the monolith's and
the generated services' settings).

**The failure** (celery 5.7.0, kombu 5.7.0, redis-py 8.1.0; kombu's latest release): when the
broker connection drops, celery's ``Consumer.on_connection_error_after_connected`` calls
``connection.collect()`` and then ``connection.close()``. ``collect()`` closes the channels, but
the default channel's ``close()`` stops half-way when reading the pending ``BRPOP`` reply fails
with a connection error (swallowed), so the channel stays open; ``collect()`` then detaches the
transport from its connection (``transport.client = None``). ``close()`` closes that channel again;
this time it gets to ``QoS.restore_unacked_once()``, which, if the worker holds unacknowledged
(``acks_late``) messages, builds a new connection pool from ``transport.client.hostname``:
``AttributeError: 'NoneType' object has no attribute 'hostname'``. That is not a connection error,
so ``ignore_errors`` lets it through and the worker exits for good ("Unrecoverable error"). An
idle worker holds no unacknowledged message and never gets there. celery 5.6.3 did not call
``close()`` after ``collect()``; the pool is built lazily, so the second close is what fails.

**The fix**: a channel whose transport has been detached cannot reach Redis any more, so asking it
for connection parameters raises the transport's own ``ConnectionError``. ``restore_unacked_once``
then fails like any restore attempted while Redis is down (it gives up restoring for this
channel and ``ignore_errors`` swallows the error), the consumer goes on to its usual
reconnect loop, and consumes again once Redis is back. Nothing is lost: the messages stay in
Redis's unacked index, from which kombu restores them after the visibility timeout, and in Seams
the outbox relay re-dispatches any publication that was not completed anyway.

Remove the ``_connparams`` override once kombu makes a second ``close()`` after ``collect()``
harmless; ``tests/e2e/test_broker_outage_busy_worker.py`` fails without it.

**One client per connection pool.** kombu builds a new ``redis.Redis`` object whenever it needs
a synchronous one (``Channel.conn_or_acquire``): about 0.1 ms of CPU each (redis-py 8 copies its
response callbacks and sets up an event dispatcher per client, measured in-process under load), and
four per message published, fetched and acknowledged (``tests/integration/test_redis_transport.py``
counts them). The client holds no connection of its own (it borrows one from the pool
per command, as before), so :class:`Channel` keeps one per pool and builds a new one only when kombu
has replaced the pool (after a reconnect).

**Answered and outbox tasks are held in memory until acknowledged** (:class:`QoS`). kombu
emulates AMQP's acknowledgements on Redis with an unacked index: every message a worker takes is
written to a hash and a sorted set (``HSET`` + ``ZADD`` in a ``MULTI``, one round trip) and
deleted from both when it is acknowledged (``ZREM`` + ``HDEL``, another), so that a message whose
worker died unacknowledged is put back on its queue after the visibility timeout (an hour by
default). For the transport's own answered tasks (:data:`.names.ANSWERED_TASKS`: a contract call,
a forwarded event) that index buys nothing: each is acknowledged when it starts (not
``acks_late``), its caller waits at most its ``TIMEOUT`` (seconds), and a call put back an hour
later is dropped unrun by its deadline, a forwarded event by the deadline in its header (its outbox has
forwarded it again long before). Nor for the outbox's own tasks (:data:`.names.OUTBOX_TASKS`:
``seams.deliver_publication``, the batch drain, the relay): what redelivers a publication whose
message was lost is the outbox itself — the publication stays open, and the relay sends it again
once its lease ran out (a minute by default) or it is ``STALE_AFTER`` old — long before kombu
would restore the message, whose copy the claim (compare-and-set) and the inbox would drop anyway.
For them the index was two Redis round trips per event that no guarantee rested on (about 0.6 ms
of a drained event's wall time on a loaded two-core machine, py-spy on ``bench.events_micro``'s
worker). Held tasks are kept in the channel's in-memory state only: prefetch limits count them as
before, a worker that stops (warm shutdown, a lost connection) pushes the ones it had not started
back on their queue as kombu does (``restore_unacked``), a ``reject(requeue=True)`` requeues them,
and only a worker killed outright loses them: callers time out as they did
(``TransportUnavailable``), publications wait for the relay (``tests/e2e/test_event_faults.py``
kills workers so). Every other task (the project's own) keeps kombu's index.

**The worker's event loop without per-message overhead that buys nothing.** Two costs of kombu's
consumer, paid on every message a worker takes (a Celery-extracted shop's workers take three per
order; py-spy on ``bench/shop.py --extracted celery``: the event loop was about 70% of the catalog
worker's CPU, its task 27%):

* kombu's ``cached_property`` (``Channel.client``, ``Channel.subclient``) is a *data* descriptor
  whose every read takes an ``RLock`` in Python; the loop reads ``channel.client`` several times
  per message (sending ``BRPOP``, reading its reply). Here they are cached like
  ``functools.cached_property`` (built once under a lock, then a plain attribute of the channel);
  kombu reads and clears them through the instance's ``__dict__`` only, which stays the same;
* on every turn of the loop kombu's ``on_poll_start`` adds a reader for every socket the poller
  polls, each an ``epoll_ctl`` that fails with ``EEXIST`` (raised and swallowed in Python) for a
  socket already polled. Here a socket is added when the loop does not have this transport's
  reader for it (a new socket, one the loop dropped on a disconnect, a paused ``BRPOP`` resumed:
  kombu removes the reader when it pauses one); the poller's own registrations (``_register``,
  the pause and resume of ``BRPOP``) are kombu's, unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from redis.exceptions import ConnectionError as RedisConnectionError

from .names import HELD_IN_MEMORY, TRANSPORT, broker_transport  # noqa: F401 - TRANSPORT (the value of CELERY_BROKER_TRANSPORT that selects this transport), broker_transport: named here too


class QoS(kombu_redis.QoS):
    """kombu's Redis QoS, except that answered and outbox tasks are never written to the unacked
    index (see the module's docstring): they are kept in :attr:`_delivered`, as every message is,
    and nowhere else."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Delivery tags of the held tasks taken and not yet acknowledged (acks come from pool threads).
        self._held: set[str] = set()

    def append(self, message: Any, delivery_tag: str) -> None:
        if (message.headers or {}).get("task") in HELD_IN_MEMORY:
            self._held.add(delivery_tag)
            virtual.QoS.append(self, message, delivery_tag)  # in memory only: no HSET + ZADD
        else:
            super().append(message, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        if delivery_tag in self._held:
            self._held.discard(delivery_tag)
            virtual.QoS.ack(self, delivery_tag)  # no ZREM + HDEL: it was never indexed
        else:
            super().ack(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if delivery_tag in self._held:
            if requeue:
                self._push_back([self._delivered[delivery_tag]], leftmost=True)
            self._held.discard(delivery_tag)
            virtual.QoS.ack(self, delivery_tag)  # as kombu's reject: forgotten either way
        else:
            super().reject(delivery_tag, requeue=requeue)

    def restore_unacked(self, client: Any = None) -> None:
        """Put back the held tasks this channel holds and has not acknowledged (from memory,
        in one pipeline), then the others from the unacked index (kombu's own restore)."""
        held = [(tag, message) for tag, message in list(self._delivered.items()) if tag in self._held and tag not in self._dirty]
        if held:
            self._push_back([message for _, message in held], client=client)
            for tag, _ in held:
                self._delivered.pop(tag, None)
                self._held.discard(tag)
        super().restore_unacked(client)

    def _push_back(self, messages: list[Any], *, leftmost: bool = False, client: Any = None) -> None:
        with self.channel.conn_or_acquire(client) as redis:
            pipe = redis.pipeline()
            for message in messages:
                info = message.delivery_info
                self.channel._do_restore_message(message._raw, info["exchange"], info["routing_key"], pipe, leftmost)
            pipe.execute()


class _Built:
    """An attribute built on first read (under a lock) and then kept in the instance's ``__dict__``:
    a non-data descriptor, so later reads never call it (kombu's ``cached_property`` is called, and
    takes its lock, on every read)."""

    def __init__(self, build: Callable[[Any], Any]) -> None:
        self.build = build
        self.name = build.__name__
        self.lock = threading.RLock()

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        with self.lock:
            cache = instance.__dict__
            if self.name not in cache:
                cache[self.name] = self.build(instance)
            return cache[self.name]


class Channel(kombu_redis.Channel):
    QoS = QoS

    #: The clients of BRPOP and of LISTEN, as kombu builds them (see the module's docstring).
    client = _Built(kombu_redis.Channel.client.func)
    subclient = _Built(kombu_redis.Channel.subclient.func)

    #: (pool, client): the synchronous client built for ``pool`` (kombu drops the pool on reconnect).
    _pool_client: tuple[Any, Any] | None = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:  # the BRPOP/LISTEN client, built once per channel by kombu already
            return super()._create_client(asynchronous=True)
        pool = self.pool
        cached = self._pool_client
        if cached is None or cached[0] is not pool:
            cached = self._pool_client = (pool, super()._create_client())
        return cached[1]

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:  # the transport was collected: there is no broker to reach
            raise RedisConnectionError("the broker connection was closed (kombu transport collected)")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel

    def register_with_event_loop(self, connection: Any, loop: Any) -> None:
        """kombu's, with its per-turn ``on_poll_start`` replaced by one that adds a socket's reader
        only when the loop does not have it (see the module's docstring). Should kombu's own no
        longer be found, it is kept as it is."""
        before = set(loop.on_tick)
        super().register_with_event_loop(connection, loop)
        added = [tick for tick in loop.on_tick if tick not in before and getattr(tick, "__name__", "") == "on_poll_start"]
        if len(added) != 1:
            return
        cycle = self.cycle
        cycle_poll_start = cycle.on_poll_start
        readers = loop.readers
        add_reader = loop.add_reader
        on_readable = self.on_readable

        def on_poll_start() -> None:
            cycle_poll_start()
            for fd in cycle.fds:
                if readers.get(fd) != (on_readable, (fd,)):
                    add_reader(fd, on_readable, fd)

        loop.on_tick.discard(added[0])
        loop.on_tick.add(on_poll_start)


__all__ = ["TRANSPORT", "Channel", "QoS", "Transport", "broker_transport"]
