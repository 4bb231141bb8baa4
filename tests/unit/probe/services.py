"""The probe module's 'business logic': publish inside its own transaction, like a real module."""

from collections.abc import Callable

from contracts.kernel import Envelope, atomic, publish

from .events import ProbeHappened


def happen(probe_id: int, *, work: Callable[[], object] = lambda: None, note: str = "") -> Envelope:
    """Do ``work`` and announce it, in one transaction of the probe module (its alias: catalog)."""
    with atomic():
        envelope = publish(ProbeHappened(probe_id=probe_id, note=note))
        work()
    return envelope
