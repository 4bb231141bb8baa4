"""Bindings from the environment: one variable per module says how its contracts are served.

``SEAMS_BIND_<LABEL>`` (the module label in upper case):

* unset, empty or ``inprocess``: in-process (the default);
* ``http://host:port[/prefix]`` or ``https://...``: the HTTP transport, with that base URL;
* ``celery``: the Celery transport, on queue ``seams.rpc.<label>`` of ``CELERY_BROKER_URL``.

Optional companions: ``SEAMS_BIND_<LABEL>_TIMEOUT`` (seconds, default 5) and, for Celery,
``SEAMS_BIND_<LABEL>_QUEUE``; for HTTP, ``SEAMS_BIND_<LABEL>_RETRIES`` (retries of a safe call,
default 2), ``SEAMS_BIND_<LABEL>_BREAKER_THRESHOLD`` (consecutive failures that open the circuit,
default 5) and ``SEAMS_BIND_<LABEL>_BREAKER_COOLDOWN`` (seconds before a probe, default 10). Every
number is checked here, at start-up, whatever the binding. Each binding also names its module
(``MODULE``), which the transports use to address the module's service (forwarded events).

The result is the kernel's ``SEAMS_BINDINGS`` setting, so switching a module between in-process
and a service is one environment line and no code change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from contracts.kernel import ConfigurationError

__all__ = ["DEFAULT_GATEWAY_TIMEOUT", "DEFAULT_TIMEOUT", "HTTP_OPTIONS", "bindings_from_env", "forwarding_module", "gateway_from_env", "rpc_queue"]

DEFAULT_TIMEOUT = "5"


def _positive_seconds(text: str) -> bool:
    return float(text) > 0


def _count(minimum: int) -> Callable[[str], bool]:
    return lambda text: int(text) >= minimum


#: Optional HTTP binding keys: suffix of the variable -> (test of the value, what it must be).
HTTP_OPTIONS: dict[str, tuple[Callable[[str], bool], str]] = {
    "RETRIES": (_count(0), "a whole number of retries, 0 or more"),
    "BREAKER_THRESHOLD": (_count(1), "a whole number of failures, 1 or more"),
    "BREAKER_COOLDOWN": (_positive_seconds, "a positive number of seconds"),
}


def rpc_queue(label: str) -> str:
    """The Celery queue that serves ``label``'s contract calls unless configured otherwise."""
    return f"seams.rpc.{label}"


def _checked(variable: str, value: str, test: Callable[[str], bool], expected: str) -> str:
    try:
        if not test(value):
            raise ValueError
    except ValueError:
        raise ConfigurationError(f"{variable} must be {expected}, got {value!r}.") from None
    return value


def bindings_from_env(environ: Mapping[str, str], labels: Iterable[str]) -> dict[str, dict[str, str]]:
    """Read ``SEAMS_BIND_*`` for each module label; in-process modules are left out."""
    bindings: dict[str, dict[str, str]] = {}
    for label in labels:
        name = f"SEAMS_BIND_{label.upper()}"
        value = environ.get(name, "").strip()
        timeout = _checked(
            f"{name}_TIMEOUT",
            environ.get(f"{name}_TIMEOUT", DEFAULT_TIMEOUT).strip(),
            _positive_seconds,
            "a positive number of seconds",
        )
        options = {
            key: _checked(f"{name}_{key}", environ[f"{name}_{key}"].strip(), test, expected)
            for key, (test, expected) in HTTP_OPTIONS.items()
            if environ.get(f"{name}_{key}", "").strip()
        }
        if value in {"", "inprocess"}:
            continue
        if value.startswith(("http://", "https://")):
            bindings[label] = {"TRANSPORT": "http", "MODULE": label, "URL": value.rstrip("/"), "TIMEOUT": timeout, **options}
        elif value == "celery":
            queue = environ.get(f"{name}_QUEUE", "").strip() or rpc_queue(label)
            bindings[label] = {"TRANSPORT": "celery", "MODULE": label, "QUEUE": queue, "TIMEOUT": timeout}
        else:
            raise ConfigurationError(
                f"{name}={value!r} is not a binding. Use 'inprocess', an http(s):// base URL of the "
                f"service, or 'celery'."
            )
    return bindings


DEFAULT_GATEWAY_TIMEOUT = 30.0


def gateway_from_env(environ: Mapping[str, str], labels: Iterable[str]) -> dict[str, Any]:
    """The ``SEAMS_GATEWAY`` setting from ``SEAMS_GATEWAY``, ``SEAMS_GATEWAY_<LABEL>`` and
    ``SEAMS_GATEWAY_TIMEOUT``."""
    enabled = environ.get("SEAMS_GATEWAY", "on").strip().lower() not in {"off", "0", "false", "no"}
    raw_timeout = environ.get("SEAMS_GATEWAY_TIMEOUT", str(DEFAULT_GATEWAY_TIMEOUT)).strip()
    try:
        timeout = float(raw_timeout)
        if timeout <= 0:
            raise ValueError
    except ValueError:
        raise ConfigurationError(f"SEAMS_GATEWAY_TIMEOUT must be a positive number of seconds, got {raw_timeout!r}.") from None
    targets = {}
    for label in labels:
        url = environ.get(f"SEAMS_GATEWAY_{label.upper()}", "").strip()
        if url:
            if not url.startswith(("http://", "https://")):
                raise ConfigurationError(f"SEAMS_GATEWAY_{label.upper()}={url!r} is not an http(s):// base URL.")
            targets[label] = url.rstrip("/")
    return {"ENABLED": enabled, "TARGETS": targets, "TIMEOUT": timeout}


def forwarding_module(binding: Mapping[str, Any], subscriber: str) -> str:
    """The module whose service receives ``subscriber``'s events: the binding's ``MODULE`` (set by
    :func:`bindings_from_env`), else the label in the handler's dotted name
    (``modules.<label>.handlers.f``)."""
    explicit = str(binding.get("MODULE") or "").strip()
    if explicit:
        return explicit
    parts = subscriber.split(".")
    if len(parts) > 2 and parts[0] == "modules" and parts[1]:
        return parts[1]
    raise ConfigurationError(
        f"Cannot tell which module serves {subscriber}: its name is not modules.<label>.... and its "
        f"binding has no MODULE key."
    )
