"""``extraction.celery.redis_transport`` against the real Redis broker: publishing and acknowledging
reuse one ``redis.Redis`` client per connection pool (kombu built one per operation), and a pool
kombu replaced after a reconnect gets a client of its own; the transport's answered tasks (a
contract call, a forwarded event) and the outbox's own tasks (a publication's delivery, the batch
drain, the relay: the outbox redelivers those) are held unacknowledged in memory, never in kombu's
unacked index, and still go back on their queue when the channel closes or rejects them.

The queue has a per-test name and is deleted afterwards (the broker is shared with other runs).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from kombu import Connection, Queue
from kombu.asynchronous import Hub

from extraction.celery import redis_transport
from tests.integration.parity import served

pytestmark = pytest.mark.e2e


class CountingClient(redis.Redis):
    """The real client, counting how many are built (the cost the transport avoids)."""

    built = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).built += 1
        super().__init__(*args, **kwargs)


class CountingChannel(redis_transport.Channel):
    def _get_client(self) -> type[redis.Redis]:  # kombu's hook for the client class
        return CountingClient


class CountingTransport(redis_transport.Transport):
    Channel = CountingChannel


@pytest.fixture
def queue() -> Iterator[Queue]:
    name = f"seams.test.redis-transport.{uuid.uuid4().hex[:8]}"
    yield Queue(name, routing_key=name)
    served.forget_queues(settings.CELERY_BROKER_URL, [name])


@pytest.fixture
def connection() -> Iterator[Connection]:
    with Connection(settings.CELERY_BROKER_URL, transport=CountingTransport) as conn:
        yield conn


def publish(connection: Connection, queue: Queue, body: dict[str, Any], task: str | None = None) -> None:
    headers = {} if task is None else {"task": task, "id": str(uuid.uuid4())}
    connection.Producer(connection.default_channel).publish(
        body, routing_key=queue.routing_key, declare=[queue], serializer="json", headers=headers
    )


def indexed(channel: Any, tag: str) -> bool:
    """Whether kombu's unacked index (hash and sorted set) holds the message ``tag``."""
    client = channel.client
    return bool(client.hexists(channel.unacked_key, tag)) or client.zscore(channel.unacked_index_key, tag) is not None


def publish_and_take(connection: Connection, queue: Queue, body: dict[str, Any]) -> dict[str, Any]:
    channel = connection.default_channel
    publish(connection, queue, body)
    message = queue(channel).get(no_ack=False)
    assert message is not None, "the message did not arrive"
    message.ack()  # through the unacked index: QoS.append at get, removal at ack
    return message.payload  # type: ignore[no-any-return]


def test_publishing_and_acknowledging_reuse_one_client(connection: Connection, queue: Queue) -> None:
    assert publish_and_take(connection, queue, {"n": 0}) == {"n": 0}  # the channel and its clients exist now
    built = CountingClient.built
    for n in range(1, 6):
        assert publish_and_take(connection, queue, {"n": n}) == {"n": n}
    assert CountingClient.built == built  # before: a new client for every publish, every get and every ack


def test_a_replaced_pool_gets_a_client_of_its_own(connection: Connection, queue: Queue) -> None:
    channel = connection.default_channel
    first = channel._create_client()
    assert channel._create_client() is first and first.connection_pool is channel.pool
    channel._disconnect_pools()  # what kombu does when the connection is lost
    second = channel._create_client()
    assert second is not first and second.connection_pool is channel.pool
    assert publish_and_take(connection, queue, {"after": "reconnect"}) == {"after": "reconnect"}


HELD = ["seams.call_contract", "seams.receive_event", "seams.deliver_publication", "seams.deliver_publications", "seams.relay"]


@pytest.mark.parametrize("task", HELD)
def test_an_answered_or_outbox_task_is_held_in_memory_not_in_the_unacked_index(connection: Connection, queue: Queue, task: str) -> None:
    channel = connection.default_channel
    publish(connection, queue, {"call": 1}, task=task)
    message = queue(channel).get(no_ack=False)
    assert message is not None and message.payload == {"call": 1}
    tag = message.delivery_tag
    assert not indexed(channel, tag)  # before: HSET + ZADD at take, ZREM + HDEL at ack (two round trips)
    assert tag in channel.qos._delivered  # still counted against the prefetch limit
    message.ack()
    channel.qos._flush()
    assert tag not in channel.qos._delivered
    assert queue(channel).get(no_ack=False) is None  # acknowledged: gone for good


def test_any_other_task_keeps_kombus_unacked_index(connection: Connection, queue: Queue) -> None:
    channel = connection.default_channel
    publish(connection, queue, {"order": 1}, task="shop.send_invoice")
    message = queue(channel).get(no_ack=False)
    assert message is not None
    assert indexed(channel, message.delivery_tag)  # restored after the visibility timeout if the worker dies
    message.ack()
    assert not indexed(channel, message.delivery_tag)


def test_a_held_task_not_yet_acknowledged_goes_back_when_the_channel_closes(queue: Queue) -> None:
    with Connection(settings.CELERY_BROKER_URL, transport=CountingTransport) as first:
        publish(first, queue, {"call": "held"}, task="seams.call_contract")
        publish(first, queue, {"publication": "held"}, task="seams.deliver_publication")
        publish(first, queue, {"order": "indexed"}, task="shop.send_invoice")
        channel = first.default_channel
        held = [queue(channel).get(no_ack=False) for _ in range(3)]
        assert all(m is not None for m in held)
    # closed without acknowledging (a warm shutdown, a lost connection): all are back on the queue
    with Connection(settings.CELERY_BROKER_URL, transport=CountingTransport) as second:
        channel = second.default_channel
        back = [queue(channel).get(no_ack=True) for _ in range(3)]
        assert sorted(str(m.payload) for m in back if m is not None) == sorted(str(m.payload) for m in held if m is not None)
        assert all(m is not None and m.headers.get("redelivered") for m in back)


def test_a_rejected_answered_task_is_requeued_or_dropped_as_asked(connection: Connection, queue: Queue) -> None:
    channel = connection.default_channel
    publish(connection, queue, {"call": "again"}, task="seams.call_contract")
    message = queue(channel).get(no_ack=False)
    assert message is not None
    message.reject(requeue=True)
    again = queue(channel).get(no_ack=False)
    assert again is not None and again.payload == {"call": "again"}
    again.reject(requeue=False)
    assert queue(channel).get(no_ack=False) is None
    channel.qos._flush()
    assert not channel.qos._delivered and not channel.qos._held


# --- the worker's event loop ---------------------------------------------------------------------
class CountingHub(Hub):
    """kombu's event loop, counting the readers added to it (an ``epoll_ctl`` and, for a socket it
    already polls, a raised and swallowed ``EEXIST`` each)."""

    def __init__(self) -> None:
        super().__init__()
        self.added = 0

    def add(self, fd: Any, callback: Any, flags: int, args: Any = (), consolidate: bool = False) -> None:
        self.added += 1
        super().add(fd, callback, flags, args, consolidate)


def consume(hub: Hub, got: list[Any], wanted: int, ticks: int = 60) -> int:
    """Run the loop until ``wanted`` messages arrived (at most ``ticks`` turns); returns the turns."""
    loop = hub.create_loop()
    for turn in range(1, ticks + 1):
        next(loop)
        if len(got) >= wanted:
            return turn
    raise AssertionError(f"{len(got)} of {wanted} messages arrived in {ticks} turns of the loop")


@pytest.fixture
def hub() -> Iterator[CountingHub]:
    loop = CountingHub()
    yield loop
    loop.close()


def consumer(connection: Connection, queue: Queue, hub: Hub, got: list[Any]) -> Any:
    connection.register_with_event_loop(hub)
    taker = connection.Consumer(queues=[queue], accept=["json"], callbacks=[lambda body, message: (got.append(body), message.ack())])
    taker.consume()
    return taker


def test_a_turn_of_the_event_loop_adds_no_reader_it_already_has(connection: Connection, queue: Queue, hub: CountingHub) -> None:
    got: list[Any] = []
    consumer(connection, queue, hub, got)
    publish(connection, queue, {"n": 0})
    consume(hub, got, 1)
    added = hub.added  # the BRPOP socket's reader, added once
    for n in range(1, 6):
        publish(connection, queue, {"n": n})
    turns = consume(hub, got, 6)
    assert got == [{"n": n} for n in range(6)]
    # before: every turn added every socket again (kombu's on_poll_start), `turns` more at least
    assert hub.added == added, f"{hub.added - added} readers added again in {turns} turns"


def test_the_event_loop_polls_the_new_socket_after_a_reconnect(connection: Connection, queue: Queue, hub: CountingHub) -> None:
    got: list[Any] = []
    consumer(connection, queue, hub, got)
    publish(connection, queue, {"before": "drop"})
    consume(hub, got, 1)
    channel = connection.default_channel
    old = channel.client.connection._sock
    channel.client.connection.disconnect()  # what a lost broker connection leaves (redis-py clears the socket)
    publish(connection, queue, {"after": "drop"})
    consume(hub, got, 2)
    assert got == [{"before": "drop"}, {"after": "drop"}]
    assert channel.client.connection._sock is not None and channel.client.connection._sock is not old


def test_the_channels_clients_are_plain_attributes_once_built(connection: Connection) -> None:
    """kombu's ``cached_property`` is a data descriptor taking a lock on every read (several per
    message the worker takes); the transport's is read from the instance like any attribute."""
    channel = connection.default_channel
    for name in ("client", "subclient"):
        first = getattr(channel, name)
        assert getattr(channel, name) is first and channel.__dict__[name] is first
        assert not hasattr(type(channel).__dict__.get(name) or getattr(redis_transport.Channel, name), "__set__")
