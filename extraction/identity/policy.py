"""Authorisation from the manifests: who may call a contract, who may forward an event.

* A module may call a contract only if its manifest ``consumes`` it. The receiver knows the
  consumers from the manifests installed in its process (the monolith has them all) plus
  ``SEAMS_ALLOWED_CALLERS`` (``{"catalog.Catalog": ["orders"]}``), which ``extract_module`` writes
  into a service that cannot import its consumers' manifests.
* An event may be forwarded only by the module that publishes it: the module that declares it in
  ``contracts/<module>.py`` (the kernel lets no one else publish it), which every side knows from
  the declaration itself.

``admit_call`` and ``admit_event`` are what the receivers (HTTP endpoints, Celery tasks) run
before anything else: no token or a bad one is ``Unauthenticated`` (401), a valid identity that
is not allowed is ``Forbidden`` (403); either way nothing runs and nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from contracts.kernel import Contract
from contracts.kernel.events import declared_events
from contracts.kernel.modules import module_configs

from .tokens import Forbidden, Identity, verify

__all__ = ["admit_call", "admit_event", "allowed_callers", "allowed_publisher", "authorise_event", "bearer"]


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def allowed_callers(contract: type[Contract]) -> frozenset[str]:
    """The modules that may call ``contract``: installed consumers, plus ``SEAMS_ALLOWED_CALLERS``."""
    contract = contract.__seams_contract__
    declared: Mapping[str, list[str]] = getattr(settings, "SEAMS_ALLOWED_CALLERS", {})
    installed = {config.label for config in module_configs() if contract in tuple(config.consumes)}
    return frozenset(installed | set(declared.get(contract.__seams_name__, ())))


def allowed_publisher(event_type: str, version: Any) -> str | None:
    """The module that publishes ``event_type`` (its declaring module), None when unknown here.

    Every version of a type has the same publisher: a version unknown here (a newer publisher's,
    which may carry the older payloads this process reads, docs/evolution.md) is judged by the
    versions known here, so claiming an unknown version never lets another module forward it."""
    try:
        event = declared_events.get((event_type, int(version)))
    except (TypeError, ValueError):
        event = None
    if event is None:
        event = next((e for (t, _), e in declared_events.items() if t == event_type), None)
    return event.publisher if event is not None else None


def admit_call(token: str | None, contract: type[Contract], message_id: str = "") -> Identity:
    """Verify the caller of ``contract`` (401) and that its manifest consumes it (403).
    ``message_id``: the Celery task id the token came with (replay protection, see ``.replay``)."""
    contract = contract.__seams_contract__
    identity = verify(token, contract.__seams_module__, message_id)
    if identity.module not in allowed_callers(contract):
        raise Forbidden(
            f"module '{identity.module}' (service '{identity.service}') does not consume {contract.__seams_name__}: "
            f"only its consumers may call it"
        )
    return identity


def admit_event(token: str | None, module: str, envelope: Any, message_id: str = "") -> Identity:
    """Verify the forwarder of an event to ``module`` (401) and that it publishes the event (403).

    An event type unknown here passes (the receiver then answers it undeliverable, as before): the
    forwarder was still authenticated, and no handler can run for a type nobody here declares."""
    identity = verify(token, module, message_id)
    authorise_event(identity, envelope)
    return identity


def authorise_event(identity: Identity, envelope: Any) -> None:
    """Raise ``Forbidden`` unless ``identity`` speaks for the publisher of the envelope's event."""
    if not isinstance(envelope, Mapping):
        return
    publisher = allowed_publisher(str(envelope.get("type", "")), envelope.get("version"))
    if publisher is not None and identity.module != publisher:
        raise Forbidden(
            f"module '{identity.module}' (service '{identity.service}') does not publish {envelope.get('type')}: "
            f"only '{publisher}' may forward it"
        )
