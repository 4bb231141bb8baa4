"""The answer of a Celery contract call (or forwarded event) pushed straight to the caller's reply key.

Celery's Redis result backend makes every answered task cost, on the caller, a ``SUBSCRIBE`` when
the task is sent, a ``GET`` of the result when it starts waiting, the pub/sub message and an
``UNSUBSCRIBE``, all through its result consumer's locks; on the worker, a result record (status,
date, children, traceback...) written with ``SETEX`` and announced with ``PUBLISH``. A call that
only wants one answer, once, pays for much more than that.

Here the caller names a reply key (``seams.reply.<task id>``) in the message and sends it with
``ignore_result`` (Celery then neither subscribes nor stores a result); the worker pushes the
answer onto that list (``RPUSH`` + ``EXPIRE``, one round trip) and the caller waits on it with one
``BLPOP``. It uses the result backend's own Redis client (``CELERY_RESULT_BACKEND``, its pool, its
timeouts and TLS settings), so nothing new is configured.

When the result backend is not Redis, :func:`reply_client` is ``None`` and calls go through
Celery's result backend as before. A worker that receives a message without a reply key (an older
caller) answers through the result backend too, so callers and workers can be upgraded in any
order.

What is not lost: a worker that dies before answering, or a Redis that drops the reply, leaves the
caller waiting until its ``TIMEOUT`` (``TransportUnavailable``), as with the result backend; an
answer nobody waits for any more expires with its key.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.backends.redis import RedisBackend
from kombu.utils.json import dumps, loads

__all__ = ["PREFIX", "key_for", "push", "reply_client", "wait"]

#: Reply keys live beside Celery's ``celery-task-meta-*`` in the result backend's database.
PREFIX = "seams.reply."


def key_for(task_id: str) -> str:
    return f"{PREFIX}{task_id}"


def reply_client(app: Celery) -> Any | None:
    """The result backend's Redis client, or ``None`` when the backend is not Redis."""
    backend = app.backend
    return backend.client if isinstance(backend, RedisBackend) else None


def push(app: Celery, key: str, answer: Any, ttl: float) -> None:
    """Give ``answer`` to the caller waiting on ``key`` (kept ``ttl`` seconds if nobody takes it)."""
    client = reply_client(app)
    if client is None:  # the caller asked for a reply key, so its backend is Redis: ours should be too
        raise RuntimeError(f"a reply to {key} needs a Redis result backend, not {type(app.backend).__name__}")
    pipe = client.pipeline(transaction=False)
    pipe.rpush(key, dumps(answer))
    pipe.expire(key, max(int(ttl + 0.999), 1))
    pipe.execute()


def wait(client: Any, key: str, timeout: float) -> tuple[bool, Any]:
    """``(True, answer)`` once it is pushed, ``(False, None)`` after ``timeout`` seconds."""
    popped = client.blpop([key], timeout=max(timeout, 0.01))
    if popped is None:
        return False, None
    return True, loads(popped[1])
