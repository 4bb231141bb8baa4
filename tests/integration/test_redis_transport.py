"""``extraction.celery.redis_transport`` against the real Redis broker: publishing and acknowledging
reuse one ``redis.Redis`` client per connection pool (kombu built one per operation), and a pool
kombu replaced after a reconnect gets a client of its own.

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


def publish_and_take(connection: Connection, queue: Queue, body: dict[str, Any]) -> dict[str, Any]:
    channel = connection.default_channel
    connection.Producer(channel).publish(body, routing_key=queue.routing_key, declare=[queue], serializer="json")
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
