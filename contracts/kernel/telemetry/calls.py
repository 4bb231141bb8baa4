"""Contract calls observed: a span and ``seams_contract_calls_total`` / ``_duration_seconds`` per call.

Every call is observed where it is made: in-process through the object ``use()`` returns
(:func:`observed`), over a transport in the transport's client (``extraction/proxy.py``, through
:func:`observe`). The labelled metric children are made once per method, so a call costs two clock
reads, a counter and a histogram update, plus a span only when tracing is active.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from ..contract import Contract
from ..errors import ContractError, ServiceUnavailable
from . import tracing
from .metrics import CONTRACT_CALL_DURATION, CONTRACT_CALLS, OUTCOMES

__all__ = ["observe", "observed", "outcome_of"]


def outcome_of(exc: BaseException) -> str:
    """The ``outcome`` label of a call that raised ``exc`` (see ``metrics.OUTCOMES``)."""
    if isinstance(exc, ServiceUnavailable):
        return "unavailable"
    if isinstance(exc, ContractError):
        return "contract_error"
    return "error"


def observe(contract: type[Contract], method: str, transport: str, call: Callable[..., Any]) -> Callable[..., Any]:
    """``call`` (a method of ``contract``), observed as a call over ``transport``."""
    name = f"{contract.__seams_name__}.{method}"
    counters = {outcome: CONTRACT_CALLS.labels(contract.__seams_name__, method, transport, outcome) for outcome in OUTCOMES}
    ok = counters["ok"]
    duration = CONTRACT_CALL_DURATION.labels(contract.__seams_name__, method, transport)
    kind = tracing.SpanKind.INTERNAL if transport == "inprocess" else tracing.SpanKind.CLIENT
    attributes = {
        "seams.contract": contract.__seams_name__,
        "seams.method": method,
        "seams.transport": transport,
        "seams.module": contract.__seams_module__,
    }
    perf_counter = time.perf_counter
    active = tracing.active

    def measured(*args: Any, **kwargs: Any) -> Any:
        start = perf_counter()
        try:
            if active():
                with tracing.span(name, kind, attributes) as current:
                    try:
                        result = call(*args, **kwargs)
                    except BaseException as exc:
                        tracing.mark_outcome(current, outcome_of(exc), error_code=getattr(exc, "code", None))
                        raise
                    tracing.mark_outcome(current, "ok")
            else:
                result = call(*args, **kwargs)
        except Exception as exc:
            duration.observe(perf_counter() - start)
            counters[outcome_of(exc)].inc()
            raise
        duration.observe(perf_counter() - start)
        ok.inc()
        return result

    return functools.wraps(call)(measured)


def observed(contract: type[Contract], instance: Contract) -> Contract:
    """An object of a contract subclass whose methods call ``instance``'s, observed as in-process
    calls (what ``use()`` returns for a module served in this process)."""
    methods = {
        name: staticmethod(observe(contract, name, "inprocess", getattr(instance, name)))
        for name in contract.__seams_methods__
    }
    methods["__repr__"] = lambda self: f"<Observed {instance!r}>"
    methods["__seams_target__"] = instance  # what the calls go to (the implementation, or its validating proxy)
    return type(f"Observed{contract.__name__}", (contract,), methods)()
