"""Celery settings every Seams process shares (its workers, and its web processes that publish
tasks or call contracts over Celery); only the default queue differs.

A call over Celery waits for its result, so the result backend's timeouts matter on the calling
side as much as on the worker: they are the same everywhere, not only in the monolith.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts.kernel import ConfigurationError
from extraction.celery.names import broker_transport

from .env import Env

__all__ = ["POOLS", "WORKER_OPTIONS", "celery_settings", "worker_command", "worker_pool"]

#: The pools a Seams worker may run (Celery's own names; gevent and eventlet need their packages).
POOLS = ("threads", "prefork", "solo")
#: ``CELERY_BROKER_URL``'s schemes: kombu's transports (Redis is the one Seams runs and tests).
BROKER_SCHEMES = ("redis", "rediss", "sentinel", "amqp", "amqps", "pyamqp", "sqs", "memory", "filesystem")


#: The options of every Seams worker's command line, as the generated services document it (README,
#: Dockerfile's note, k8s/deployment.yaml) and ``bench/shop.py`` runs it. No Seams process reads
#: worker events: the health checks ask workers through remote control (``inspect``), which these
#: leave on. Gossip (consuming every other worker's events), heartbeat events (a publish per worker
#: every two seconds) and mingle (asking every worker at start-up, a wait of a second per start) were
#: broker traffic and CPU for nobody; a monitor that wants events (Flower) turns them back on with ``-E``
#: and by removing ``--without-heartbeat``.
WORKER_OPTIONS = ("--without-gossip", "--without-mingle", "--without-heartbeat")


def worker_command(app: str, queues: Sequence[str], *, loglevel: str = "INFO") -> list[str]:
    """``celery -A <app> worker -Q <queues> <WORKER_OPTIONS> --loglevel INFO``: the documented worker command
    (the pool and its concurrency are the settings', ``CELERY_WORKER_POOL``; ``-c`` defaults to the CPU count;
    ``-P <pool>`` added to it wins over the setting)."""
    return ["celery", "-A", app, "worker", "-Q", ",".join(queues), *WORKER_OPTIONS, "--loglevel", loglevel]


def worker_pool(env: Env) -> str:
    """``CELERY_WORKER_POOL``: ``threads`` (the default), ``prefork`` or ``solo``."""
    value = env.str("CELERY_WORKER_POOL", "threads").lower()
    if value not in POOLS:
        raise ConfigurationError(
            f"CELERY_WORKER_POOL={env['CELERY_WORKER_POOL']!r} is not a worker pool Seams runs: use one of {', '.join(POOLS)}."
        )
    return value


def celery_settings(env: Env, *, default_queue: str) -> dict[str, Any]:
    """``CELERY_*`` (read by ``config_from_object(..., namespace="CELERY")``), from
    ``CELERY_BROKER_URL``, ``CELERY_RESULT_BACKEND``, ``CELERY_WORKER_POOL``, ``CELERY_BROKER_CONNECTION_TIMEOUT``,
    ``CELERY_RESULT_EXPIRES``, ``CELERY_REDIS_SOCKET_CONNECT_TIMEOUT`` and ``SEAMS_RELAY_INTERVAL``.

    ``default_queue``: where tasks with no queue of their own (the relay) go: the queue the
    process's worker consumes.
    """
    broker_url = env.url("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0", schemes=BROKER_SCHEMES)
    return {
        "CELERY_BROKER_URL": broker_url,
        # kombu's Redis transport with the fix that keeps a busy worker alive when Redis drops
        # (extraction/celery/redis_transport.py); other brokers keep kombu's own transport.
        "CELERY_BROKER_TRANSPORT": broker_transport(broker_url),
        "CELERY_RESULT_BACKEND": env.url("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/1"),
        "CELERY_TASK_SERIALIZER": "json",
        "CELERY_ACCEPT_CONTENT": ["json"],
        "CELERY_TASK_DEFAULT_QUEUE": default_queue,
        "CELERY_WORKER_PREFETCH_MULTIPLIER": 1,
        # Seams' tasks wait on I/O (a database, the broker, a contract call to another service):
        # threads in one process, rather than prefork children that are handed every task and give
        # back every answer through pipes. Measured on the Celery-extracted shop (bench/shop.py, two
        # stacks interleaved, -c 2): 0.84x the CPU per order of prefork, lower p50. CPU-bound
        # handlers: CELERY_WORKER_POOL=prefork, or `celery worker -P prefork`, which wins over this
        # setting (Celery's own rule lets the setting win over -P prefork: extraction/celery/pool.py).
        "CELERY_WORKER_POOL": worker_pool(env),
        # Celery's consumer, except that a held task (a contract call, a forwarded event, an outbox
        # task) is acknowledged by the pool thread that starts it instead of waking the event loop
        # for it: 0.85x the worker's CPU per task under the threads pool (extraction/celery/consumer.py).
        "CELERY_WORKER_CONSUMER": "extraction.celery.consumer:Consumer",
        # Workers log through LOGGING (JSON when asked), not Celery's own root handler.
        "CELERY_WORKER_HIJACK_ROOT_LOGGER": False,
        # Publishing a task never blocks a web request for long: if the broker is down the outbox
        # keeps the event and the relay sends it later.
        "CELERY_BROKER_CONNECTION_TIMEOUT": env.float("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0, above=0),
        "CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP": True,
        # A worker reconnects to its broker however long the outage: Celery's default gives up after
        # 100 attempts (kombu waits 2, 4, ... 30 s between them: about 50 minutes), and the worker
        # then exits for good, leaving delivery stopped until someone restarts it.
        "CELERY_BROKER_CONNECTION_MAX_RETRIES": None,
        # Contract calls over Celery wait for their result: when Redis is gone, fail within seconds
        # (the caller gets ServiceUnavailable -> 503), not after the backend's default 20 one-second retries.
        "CELERY_RESULT_EXPIRES": env.int("CELERY_RESULT_EXPIRES", 300, at_least=1),
        "CELERY_REDIS_SOCKET_CONNECT_TIMEOUT": env.float("CELERY_REDIS_SOCKET_CONNECT_TIMEOUT", 2.0, above=0),
        "CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS": {
            "retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
        },
        "CELERY_BEAT_SCHEDULE": {
            "seams-relay": {"task": "seams.relay", "schedule": env.float("SEAMS_RELAY_INTERVAL", 5.0, above=0)},
        },
    }
