"""Every Redis client of the Celery transport parses Redis' replies with hiredis (C), not redis-py's
pure-Python parser.

Each hop of a contract call or forwarded event is five Redis commands on the clients of the stack
(``LPUSH`` by the sender, the worker's ``BRPOP``, ``RPUSH`` + ``EXPIRE`` of the reply, the sender's
``BLPOP``), and the broker's consumer loop parses every message it takes. redis-py uses hiredis
whenever it is installed (``redis[hiredis]`` in pyproject.toml); nothing is configured.
"""

from __future__ import annotations

from celery import Celery
from redis._parsers import _HiredisParser
from redis.connection import DefaultParser

from extraction.celery import replies

URL = "redis://127.0.0.1:1/0"  # never connected to: the parser is chosen when the connection object is made


def test_redis_py_defaults_to_the_hiredis_parser() -> None:
    # kombu's Redis channels (the broker) make their connections with redis-py's default parser
    assert DefaultParser is _HiredisParser


def test_the_reply_client_parses_with_hiredis() -> None:
    app = Celery("parser-test", broker=URL, backend=URL, set_as_current=False)
    client = replies.reply_client(app)
    assert client is not None
    assert isinstance(client.connection_pool.make_connection()._parser, _HiredisParser)

