"""``use(Contract)``: how a module obtains another module's contract.

Resolution happens once per (calling Python module, contract): the consumer is checked against its
manifest, the binding (in-process today; HTTP or Celery by configuration later) is looked up, and
the result is cached. In-process, the returned object calls the implementation instance's methods
through a thin observing layer (a span when tracing is active, the ``seams_contract_calls_total``
and duration metrics: ``telemetry/calls.py``), and through a validating proxy when boundary
validation is on (``SEAMS_VALIDATE_CONTRACTS``, on under DEBUG and in tests).
"""

from __future__ import annotations

import sys
from typing import TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .contract import Contract
from .errors import ConfigurationError, NotReady, UndeclaredDependency
from .modules import module_configs, module_of
from .registry import get_registry
from .telemetry.calls import observed
from .validation import validating_proxy

C = TypeVar("C", bound=Contract)

#: The transport that serves a contract when a module's binding names none.
INPROCESS = "inprocess"

def use(contract: type[C], *, consumer: str | None = None) -> C:
    """Return the contract as served to the caller (in-process, or a transport client).

    ``consumer`` is the Python module asking; by default, the caller's ``__name__``.
    """
    caller = consumer if consumer is not None else sys._getframe(1).f_globals.get("__name__", "")
    # The cache lives in the registry, so a fresh registry (tests) never sees another's answers.
    cache = get_registry().resolved
    try:
        return cache[(caller, contract)]  # type: ignore[return-value]
    except KeyError:
        pass
    resolved = _resolve(caller, contract)
    cache[(caller, contract)] = resolved
    return resolved  # type: ignore[return-value]


def reset_resolution_cache(**_: object) -> None:
    """Forget every resolution (after settings or test overrides change)."""
    get_registry().resolved.clear()


setting_changed.connect(reset_resolution_cache)


def _resolve(caller: str, contract: type[Contract]) -> Contract:
    if not (isinstance(contract, type) and issubclass(contract, Contract) and hasattr(contract, "__seams_contract__")):
        raise TypeError(f"use() expects a declared contract class, got {contract!r}")
    contract = contract.__seams_contract__
    registry = get_registry()
    if not registry.frozen:
        raise NotReady(
            f"use({contract.__name__}) was called before Seams finished starting. Call use() inside "
            f"functions, not at import time."
        )
    consumer = module_of(caller)
    if consumer is not None and consumer.label != contract.__seams_module__ and contract not in consumer.consumes:
        raise UndeclaredDependency(
            f"Module '{consumer.label}' uses {contract.__seams_name__} without declaring it. Add "
            f"{contract.__name__} (from contracts.{contract.__seams_module__}) to 'consumes' in "
            f"{consumer.manifest_location()}."
        )
    if contract in registry.overrides:
        return registry.overrides[contract]
    label = contract.__seams_module__
    binding = binding_for(label)
    transport = binding.get("TRANSPORT", INPROCESS)
    if transport == INPROCESS:
        if label not in {config.label for config in module_configs()}:
            raise ConfigurationError(
                f"{contract.__seams_name__} is provided by module '{label}', which is not installed in this "
                f"process. Bind it to the process that serves it: SEAMS_BIND_{label.upper()}=http://<host>:<port> "
                f"(or 'celery')."
            )
        instance = registry.instance_of(contract)
        if getattr(settings, "SEAMS_VALIDATE_CONTRACTS", settings.DEBUG):
            return observed(contract, validating_proxy(contract, instance))
        return observed(contract, instance)
    transports = getattr(settings, "SEAMS_TRANSPORTS", {})
    if transport not in transports:
        known = ", ".join([INPROCESS, *sorted(transports)])
        raise ConfigurationError(
            f"Module '{label}' is bound to transport '{transport}', which is not configured. "
            f"Known transports: {known}. Add it to SEAMS_TRANSPORTS as a dotted path."
        )
    factory = import_string(transports[transport])
    # The calling module travels with the binding: a transport signs its calls in that module's name.
    if consumer is not None:
        binding = {**binding, "CALLER": consumer.label}
    return factory(contract=contract, binding=binding)


def binding_for(label: str) -> dict[str, str]:
    """How a module's contracts are served: ``settings.SEAMS_BINDINGS[label]`` (default in-process)."""
    return dict(getattr(settings, "SEAMS_BINDINGS", {}).get(label, {"TRANSPORT": INPROCESS}))
