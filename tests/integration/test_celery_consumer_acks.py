"""``extraction.celery.consumer.Consumer`` against the real Redis broker and kombu's real event loop:
a held task's acknowledgement from a pool thread runs in that thread, and the loop is woken only
when it must send or resume a ``BRPOP``; every other acknowledgement is Celery's (queued on the
loop). The worker-level check is ``test_a_burst_of_held_tasks_on_one_thread_is_served_without_stalls``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from kombu import Connection, Queue
from kombu.asynchronous import Hub

from extraction.celery import consumer as seams_consumer
from extraction.celery import redis_transport
from tests.integration.parity import served

pytestmark = pytest.mark.e2e

logger = logging.getLogger(__name__)


class AckingConsumer(seams_consumer.Consumer):
    """The consumer as far as acknowledging goes: ``call_soon_ack`` needs the event loop only."""

    def __init__(self, hub: Hub) -> None:  # Celery's __init__ builds a whole worker blueprint
        self.hub = hub


@pytest.fixture
def queue() -> Iterator[Queue]:
    name = f"seams.test.consumer-acks.{uuid.uuid4().hex[:8]}"
    yield Queue(name, routing_key=name)
    served.forget_queues(settings.CELERY_BROKER_URL, [name])


@pytest.fixture
def connection() -> Iterator[Connection]:
    with Connection(settings.CELERY_BROKER_URL, transport=redis_transport.Transport) as conn:
        yield conn


@pytest.fixture
def hub() -> Iterator[Hub]:
    loop = Hub()
    yield loop
    loop.close()


def publish(connection: Connection, queue: Queue, n: int, task: str) -> None:
    connection.Producer(connection.default_channel).publish(
        {"n": n}, routing_key=queue.routing_key, declare=[queue], serializer="json", headers={"task": task, "id": str(uuid.uuid4())}
    )


def ack_in_a_pool_thread(acker: AckingConsumer, message: Any) -> None:
    """What ``Request.acknowledge`` does in a threads-pool thread: the ack promise, called there."""
    errors = RuntimeError

    def run() -> None:
        acker.call_soon_ack(message.ack_log_error, logger, (errors,))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)


def take_through_the_loop(connection: Connection, queue: Queue, hub: Hub, wanted: int, prefetch: int = 0) -> list[Any]:
    """Messages delivered by the event loop (as a worker gets them), not acknowledged."""
    got: list[Any] = []
    connection.register_with_event_loop(hub)
    taker = connection.Consumer(queues=[queue], accept=["json"], callbacks=[lambda body, message: got.append(message)])
    if prefetch:
        taker.qos(prefetch_count=prefetch)
    taker.consume()
    loop = hub.create_loop()
    for _ in range(200):
        next(loop)
        if len(got) >= wanted:
            break
    assert len(got) >= wanted, f"{len(got)} of {wanted} messages arrived"
    next(loop)  # one more turn, as a worker's loop makes before it waits in epoll (it sends the next BRPOP if it may)
    return got


def test_a_held_ack_from_a_pool_thread_runs_in_that_thread(connection: Connection, queue: Queue, hub: Hub) -> None:
    publish(connection, queue, 1, "seams.call_contract")
    publish(connection, queue, 2, "seams.call_contract")
    first, _ = take_through_the_loop(connection, queue, hub, 2)
    channel = first.channel
    loop = hub.create_loop()
    for _ in range(50):  # until the loop has sent its next BRPOP (it may take a turn or two more)
        if channel._in_poll:
            break
        next(loop)
    assert channel._in_poll  # a BRPOP in flight: nothing for the loop to do about this ack
    hub._ready.clear()
    ack_in_a_pool_thread(AckingConsumer(hub), first)
    assert first.acknowledged and first.delivery_tag not in channel.qos._held
    assert not hub._ready, "the loop was woken for an ack it had nothing to do about"


def test_an_ack_that_gives_the_prefetch_credit_back_wakes_the_loop(connection: Connection, queue: Queue, hub: Hub) -> None:
    for n in range(3):
        publish(connection, queue, n, "seams.receive_event")
    (first,) = take_through_the_loop(connection, queue, hub, 1, prefetch=1)  # the limit: the loop stops taking
    hub._ready.clear()
    ack_in_a_pool_thread(AckingConsumer(hub), first)
    assert first.acknowledged
    assert hub._ready, "the loop must be woken to send or resume its BRPOP"
    # and the loop, woken, takes the next one
    got: list[Any] = []
    taker = connection.Consumer(queues=[queue], accept=["json"], callbacks=[lambda body, message: got.append(body)])
    taker.consume()
    loop = hub.create_loop()
    for _ in range(200):
        next(loop)
        if got:
            break
    assert got and got[0]["n"] in (1, 2)


def test_any_other_ack_is_celerys_queued_on_the_loop(connection: Connection, queue: Queue, hub: Hub) -> None:
    publish(connection, queue, 1, "shop.send_invoice")  # a project's task: kombu's unacked index, Redis round trips
    (message,) = take_through_the_loop(connection, queue, hub, 1)
    hub._ready.clear()
    ack_in_a_pool_thread(AckingConsumer(hub), message)
    assert not message.acknowledged  # not in the pool thread
    assert hub._ready  # queued for the loop, as Celery does
    for callback in list(hub._pop_ready()):
        callback()
    assert message.acknowledged


def test_an_ack_from_the_loops_own_thread_is_celerys(connection: Connection, queue: Queue, hub: Hub) -> None:
    publish(connection, queue, 1, "seams.call_contract")
    (message,) = take_through_the_loop(connection, queue, hub, 1)
    hub._ready.clear()
    assert hub._loop_thread == threading.get_ident()  # -P solo, prefork: the loop acknowledges
    AckingConsumer(hub).call_soon_ack(message.ack_log_error, logger, (RuntimeError,))
    assert not message.acknowledged and hub._ready


def test_workers_use_the_consumer() -> None:
    assert settings.CELERY_WORKER_CONSUMER == "extraction.celery.consumer:Consumer"
