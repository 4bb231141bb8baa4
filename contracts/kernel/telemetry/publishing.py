"""The publish span of every Celery send: ended after the publish, and as an error when it fails.

OpenTelemetry's Celery instrumentation opens and *activates* a ``PRODUCER`` span in
``before_task_publish`` and keeps it, with its activation, on the task object
(``utils.attach_context``) until ``after_task_publish`` ends it. Two cases went wrong:

* A send that raises (the broker is down) never gets ``after_task_publish``: the span was never
  ended nor exported, its entry stayed on the task object, and when the garbage collector closed
  the abandoned activation, in another context, OpenTelemetry logged "Failed to detach context".
  :func:`sending` (what :func:`~.tracing.contained` runs every send through) notes the sends it
  makes (:func:`_before_publish`) and, when the call raises, ends their open spans through the
  instrumentation's own bookkeeping: the activation is exited with the exception (status ERROR,
  the exception recorded) in the context it was entered in, and the entry is cleared.
* A task sent by a name this process does not register (the outbox's
  ``seams.deliver_publication`` from a web process) has no task object to keep the span on: the
  instrumentation dropped the activation as soon as its signal returned, so the span ended
  before the message went out and a failed send was never an error. Such a send gets a
  stand-in task object (:class:`_Unregistered`), one per name, so its span lives until the
  publish ends like any other.

:func:`install` puts :func:`_before_publish` / :func:`_after_publish` in the place of the
instrumentation's two publish receivers; they call the instrumentation's own handlers.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any, TypeVar

from celery._state import get_current_app

__all__ = ["install", "sending"]

T = TypeVar("T")

#: The (task, task id) of each message published by the :func:`sending` call running in this
#: context; None outside one.
_sends: contextvars.ContextVar[list[tuple[Any, str]] | None] = contextvars.ContextVar("seams_sends", default=None)

#: The stand-in task object of each name sent without being registered here (task names are few
#: and fixed by code, so this stays small).
_unregistered: dict[str, _Unregistered] = {}


class _Unregistered:
    """Stands for a task this process sends by name only, so the instrumentation can keep the
    span of its publish on it (see the module docstring). ``name`` is all the instrumentation
    reads; it stores its bookkeeping as an attribute."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<unregistered task {self.name}>"


def _task(sender: Any) -> Any:
    """The task object of the signal's sender (a task name): the registered task, or the name's
    stand-in. Handed to the instrumentation as the sender, it skips its own registry lookup (the
    same current app's registry, through a proxy that costs ~10 us a lookup)."""
    if not isinstance(sender, str):
        return sender
    task = get_current_app().tasks.get(sender)
    if task is not None:
        return task
    return _unregistered.get(sender) or _unregistered.setdefault(sender, _Unregistered(sender))


#: The Celery instrumentation and its ``utils`` module, once :func:`install` has put the
#: receivers below in the place of its own.
_installed: tuple[Any, Any] | None = None


def _before_publish(sender: Any = None, **kwargs: Any) -> None:
    if _installed is None or not _installed[0].is_instrumented_by_opentelemetry:
        return
    instrumentor, utils = _installed
    task = _task(sender)
    instrumentor._trace_before_publish(sender=task, **kwargs)  # keeps the span on ``task``
    sends = _sends.get()
    if sends is not None:
        task_id = utils.retrieve_task_id_from_message(kwargs)
        if task_id is not None:
            sends.append((task, task_id))


def _after_publish(sender: Any = None, **kwargs: Any) -> None:
    if _installed is not None and _installed[0].is_instrumented_by_opentelemetry:
        _installed[0]._trace_after_publish(sender=_task(sender), **kwargs)


def install() -> None:
    """Receive the publish signals in the place of the Celery instrumentation (once it is
    instrumented); a no-op when it is not installed or when its receivers are not where this
    module expects them (another version: its own behaviour stays)."""
    global _installed
    from celery import signals
    from opentelemetry.instrumentation.celery import CeleryInstrumentor, utils

    instrumentor = CeleryInstrumentor()  # a singleton
    before = getattr(instrumentor, "_trace_before_publish", None)
    after = getattr(instrumentor, "_trace_after_publish", None)
    if not instrumentor.is_instrumented_by_opentelemetry or before is None or after is None:
        return
    _installed = (instrumentor, utils)
    if signals.before_task_publish.disconnect(before):
        signals.before_task_publish.connect(_before_publish, weak=False, dispatch_uid="seams.before_publish")
    if signals.after_task_publish.disconnect(after):
        signals.after_task_publish.connect(_after_publish, weak=False, dispatch_uid="seams.after_publish")


def sending(call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``, a send; if it raises, the publish spans it opened end as errors.
    Run it in a context of its own (:func:`~.tracing.contained`): the activations are exited in
    it, where the instrumentation entered them."""
    sends: list[tuple[Any, str]] = []
    _sends.set(sends)
    try:
        return call(*args, **kwargs)
    except BaseException as exc:
        _fail(sends, exc)
        raise


def _fail(sends: list[tuple[Any, str]], exc: BaseException) -> None:
    """End the publish spans of ``sends`` still open (their message never went out)."""
    if not sends or _installed is None:
        return  # nothing published, or no instrumentation
    utils = _installed[1]
    for task, task_id in reversed(sends):  # the last entered is exited first
        entry = utils.retrieve_context(task, task_id, is_publish=True)
        if entry is None:
            continue  # published: after_task_publish ended it
        _, activation, _ = entry
        utils.detach_context(task, task_id, is_publish=True)
        activation.__exit__(type(exc), exc, exc.__traceback__)  # ERROR, exception recorded, ended
