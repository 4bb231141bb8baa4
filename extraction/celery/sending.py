"""Sending one message of the Celery transport (a contract call, a forwarded event) answered on a
reply key: Celery's own task message, through Celery's own ``send_task_message``, without the
per-call work of ``Celery.send_task`` that such a message never needs.

``send_task`` looks the task up in the local registry for its execution options, routes the
options (``task_routes``, the default queue), converts ``expires``, builds an ``AsyncResult`` and
adds it to the current task's trail, and declares the queue on every publish (kombu's
``maybe_declare`` copies and binds the queue, its exchange and bindings before it finds the
declaration in its cache). A call answered on a reply key (:mod:`.replies`) is sent with
``ignore_result``, to a queue named by its binding, and nobody reads its ``AsyncResult``.

:func:`send` builds the message with ``app.amqp.create_task_message`` (task protocol 2: the same
headers, properties and body ``send_task`` builds, ``root_id`` and ``parent_id`` from the task
being run, if any) and publishes it with ``app.amqp.send_task_message``, which sends the
``before_task_publish`` / ``after_task_publish`` signals (the tracing instrumentation's) and
applies the retry policy: a standard Celery message any worker understands. The queue's route
is worked out once per app and queue (``app.amqp.router.route``, as ``send_task`` does, with the
binding's queue given explicitly) and the queue is declared with the first message this process
sends to it, as ``send_task`` would.

Calls whose answer is Celery's result (a result backend that is not Redis) still go through
``send_task``: they need its ``AsyncResult`` (``extraction.celery.client``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from celery import Celery

from .names import DEADLINE_HEADER

__all__ = ["send"]

_lock = threading.Lock()


def _route(app: Celery, name: str, queue: str) -> list[Any]:
    """``[the routed options for queue, whether this process has yet to declare it]``."""
    routes: dict[tuple[str, str], list[Any]] = app.__dict__.setdefault("_seams_send_routes", {})
    entry = routes.get((name, queue))
    if entry is None:
        task = app._tasks.get(name)
        with _lock:
            entry = routes.setdefault((name, queue), [app.amqp.router.route({"queue": queue}, name, None, None, task), True])
    return entry


def _settings(app: Celery) -> tuple[bool, float | None]:
    """``(task_send_sent_event, broker_pool_acquire_timeout)``, read once per app: a lookup in
    Celery's configuration (its chain of maps over Django's settings) costs tens of µs, and
    ``send_task`` made two per message (``producer_or_acquire`` reads the second)."""
    cached: tuple[bool, float | None] | None = app.__dict__.get("_seams_send_settings")
    if cached is None:
        cached = (bool(app.conf.task_send_sent_event), app.conf.broker_pool_acquire_timeout)
        app.__dict__["_seams_send_settings"] = cached
    return cached


def send(
    app: Celery,
    name: str,
    args: list[Any],
    kwargs: Mapping[str, Any],
    *,
    task_id: str,
    queue: str,
    retry: bool,
    retry_policy: Mapping[str, Any],
    argsrepr: str,
    kwargsrepr: str,
    expires: float | None = None,
    deadline: float | None = None,
) -> None:
    """Publish task ``name`` with ``ignore_result`` to ``queue`` (see the module docstring).

    ``deadline`` (epoch seconds, a forwarded event's): sent in the :data:`~.names.DEADLINE_HEADER`
    header instead of Celery's ``expires``, and as the message's broker ``expiration`` (RabbitMQ
    drops the message when it is due; Redis ignores it)."""
    route = _route(app, name, queue)
    options, declare = route
    sent_event, acquire_timeout = _settings(app)
    root_id = parent_id = None
    parent = app.current_worker_task
    if parent:
        root_id = parent.request.root_id or parent.request.id
        parent_id = parent.request.id
    amqp = app.amqp
    message = amqp.create_task_message(
        task_id,
        name,
        args,
        dict(kwargs),
        expires=None if deadline is not None else expires,
        reply_to=app.thread_oid,
        create_sent_event=sent_event,
        root_id=root_id,
        parent_id=parent_id,
        ignore_result=True,
        argsrepr=argsrepr,
        kwargsrepr=kwargsrepr,
    )
    if deadline is not None:
        message.headers[DEADLINE_HEADER] = deadline
        expires = deadline - time.time()
    extra: dict[str, Any] = {} if expires is None else {"expiration": max(expires, 0)}
    # What app.producer_or_acquire(None) does, with the timeout read once (see _settings).
    with app.producer_pool.acquire(block=True, timeout=acquire_timeout) as producer, producer.connection._reraise_as_library_errors():
        amqp.send_task_message(
            producer,
            name,
            message,
            **options,
            retry=retry,
            retry_policy=dict(retry_policy),
            declare=None if declare else (),
            **extra,
        )
    route[1] = False  # declared with a message that went out
