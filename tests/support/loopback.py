"""A transport for kernel tests of forwarded events: the "remote" process is this one.

``forward_event`` hands the envelope to the real receiving code (``receive_event``) after a
round trip through JSON, the way the HTTP and Celery transports do, and records each forward so a
test can see what crossed. It subclasses nothing to patch: it is a transport like the others,
registered under ``SEAMS_TRANSPORTS["loopback"]``.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from contracts.kernel.outbox import receive_event


class LoopbackTransport:
    forwarded: ClassVar[list[tuple[str, str, str]]] = []  # (module, subscriber, outcome)
    #: Set to an exception to make the "network" fail the next forwards.
    failure: ClassVar[Exception | None] = None

    @classmethod
    def forward_event(cls, *, binding: dict[str, str], subscriber: str, envelope: dict[str, Any]) -> str:
        if cls.failure is not None:
            raise cls.failure
        outcome = receive_event(subscriber, json.loads(json.dumps(envelope)))
        cls.forwarded.append((binding.get("MODULE", ""), subscriber, outcome))
        return outcome

    @classmethod
    def reset(cls) -> None:
        cls.forwarded.clear()
        cls.failure = None
