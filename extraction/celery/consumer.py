"""Celery's worker consumer (``CELERY_WORKER_CONSUMER``), with one change: a held task started by a
pool thread is acknowledged in that thread, without waking the worker's event loop to do it.

**What Celery does.** Since celery 5.7 every acknowledgement goes through ``Consumer.call_soon_ack``:
with the event loop (the hub) of a ``threads`` worker, the pool thread that starts a task (tasks
are acknowledged when they start, not ``acks_late``) queues the ack on the hub and wakes it through
its socket pair; the hub thread then wakes from ``epoll``, takes the GIL from the task that has
just started and runs the ack. Two threads that want the GIL at once hand it to each other at
every blocking call either makes (a Redis round trip, a database query), each handoff a pair of
futex calls and a context switch: ``strace -f`` of a worker running a task that makes two Redis
calls counted about 59 futex calls per task, and the worker's CPU per task was 1.33 ms against
0.94 ms for the same task under ``-P solo`` (no second thread) on the machine of
docs/transports.md.

**Held tasks need none of that.** The transport's held tasks (the contract calls, forwarded events
and outbox tasks of :data:`.names.HELD_IN_MEMORY`, :mod:`.redis_transport`) are acknowledged in
memory only: a set and a dict of the channel's QoS, which kombu's threads-pool acknowledgements
always touched from pool threads before 5.7 (``QoS._held`` was written for that). Here such an ack
runs in the pool thread at once; the hub is woken only when it has to do something about it: when
the channel has no ``BRPOP`` in flight or kombu paused the one it had (the prefetch limit was
reached), an ack gives credit back and the hub must send or resume the ``BRPOP``. Checked after the
ack, so that a hub that paused before it is always woken (every read is under the GIL, in order).
Measured with one worker taking a held task that makes two Redis calls (``-P threads -c 2``, 3,000
tasks): 1.29 ms of worker CPU per task with Celery's consumer, 1.09 ms with this one, 0.92 ms under
``-P solo``.

Every other acknowledgement (a task of the project's own, kept in kombu's unacked index; any
reject; an ack from the hub's own thread, as under ``-P solo`` and ``prefork``; another broker) is
Celery's, unchanged.
"""

from __future__ import annotations

import threading
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer
from kombu.message import Message

from .redis_transport import QoS

__all__ = ["Consumer", "held_ack_in_thread"]


def _nothing() -> None:
    """Queued on the hub only to wake it: its next turn sends or resumes the ``BRPOP``."""


def held_ack_in_thread(message: Any) -> bool:
    """Whether ``message`` may be acknowledged by the calling pool thread: a held task of the
    transport's QoS (acknowledged in memory), not yet acknowledged."""
    if not isinstance(message, Message) or message.acknowledged:
        return False
    channel = message.channel
    qos = getattr(channel, "qos", None) if channel is not None else None
    return isinstance(qos, QoS) and message.delivery_tag in qos._held


class Consumer(CeleryConsumer):
    """Celery's consumer; a held task's ack from a pool thread runs in that thread (module docstring)."""

    def call_soon_ack(self, p: Any, *args: Any, **kwargs: Any) -> Any:
        hub = self.hub
        message = getattr(p, "__self__", None)
        if (
            hub is not None
            and getattr(p, "__func__", None) is Message.ack_log_error
            and threading.get_ident() != getattr(hub, "_loop_thread", None)
            and held_ack_in_thread(message)
        ):
            p(*args, **kwargs)
            channel = message.channel
            cycle = getattr(getattr(channel, "connection", None), "cycle", None)
            paused = getattr(cycle, "_paused_brpop", None)
            if not channel._in_poll or paused is None or paused:
                hub.call_soon(_nothing)
            return None
        return super().call_soon_ack(p, *args, **kwargs)
