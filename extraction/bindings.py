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

Names are checked too, at start-up: a ``SEAMS_BIND_*`` variable whose label is not a module of the
project (``SEAMS_BIND_CATALGO``), or a companion with an unknown suffix (``SEAMS_BIND_CATALOG_TIMOUT``),
stops with a ``ConfigurationError`` naming the variable, the module labels and the closest one: a
typo no longer leaves the module in-process while the operator believes it extracted. A generated
service refuses a binding of a module it serves itself. A companion of a module that is not bound
is read and checked but has no effect (a timeout set ahead of the binding, or left when the module
is taken back by dropping its one ``SEAMS_BIND_<LABEL>`` line).

The result is the kernel's ``SEAMS_BINDINGS`` setting, so switching a module between in-process
and a service is one environment line and no code change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from contracts.kernel import ConfigurationError
from extraction.settings.env import did_you_mean

__all__ = [
    "COMPANIONS",
    "DEFAULT_GATEWAY_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "HTTP_OPTIONS",
    "bindings_from_env",
    "check_bind_names",
    "forwarding_module",
    "gateway_from_env",
    "rpc_queue",
]

PREFIX = "SEAMS_BIND_"

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


#: The suffixes of ``SEAMS_BIND_<LABEL>_<SUFFIX>``.
COMPANIONS = ("TIMEOUT", "QUEUE", *HTTP_OPTIONS)


def check_bind_names(environ: Mapping[str, str], known: Iterable[str]) -> None:
    """Refuse a set ``SEAMS_BIND_*`` variable that names no module of ``known`` or no companion
    (blank is unset, as everywhere)."""
    labels = sorted(set(known))
    by_name = {label.upper(): label for label in labels}
    for name in sorted(environ):
        if not name.startswith(PREFIX) or not str(environ[name]).strip():
            continue
        rest = name[len(PREFIX) :]
        if rest in by_name:
            continue
        owner = max((upper for upper in by_name if rest.startswith(f"{upper}_")), key=len, default=None)
        if owner is not None:
            suffix = rest[len(owner) + 1 :]
            if suffix in COMPANIONS:
                continue
            raise ConfigurationError(
                f"{name} is not a setting of SEAMS_BIND_{owner}: {suffix} is not one of {', '.join(COMPANIONS)}."
                + did_you_mean(suffix, COMPANIONS, spell=f"{PREFIX}{owner}_{{}}".format)
            )
        suffix = next((f"_{s}" for s in COMPANIONS if rest.endswith(f"_{s}")), "")
        label = rest[: len(rest) - len(suffix)]
        if label.lower() in labels:
            raise ConfigurationError(f"{name} is not upper case: write {PREFIX}{label.upper()}{suffix}.")
        raise ConfigurationError(
            f"{name} names no module: {label.lower()} is not one of {', '.join(labels) or '(none)'}."
            + did_you_mean(label, labels, spell=lambda choice, suffix=suffix: f"{PREFIX}{choice.upper()}{suffix}")
        )


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


def bindings_from_env(
    environ: Mapping[str, str],
    labels: Iterable[str],
    *,
    known: Iterable[str] = (),
    served: Iterable[str] = (),
) -> dict[str, dict[str, str]]:
    """Read ``SEAMS_BIND_*`` for each module label; in-process modules are left out.

    Every ``SEAMS_BIND_*`` variable must name one of ``labels``, ``known`` (the project's other
    modules: a generated service binds only those it reaches) or ``served`` (the modules this process
    serves itself, a generated service's ``SEAMS_MODULES``, which it refuses to bind elsewhere)."""
    labels = list(labels)
    served = list(served)
    check_bind_names(environ, [*labels, *known, *served])
    for label in served:
        value = environ.get(f"{PREFIX}{label.upper()}", "").strip()
        if label not in labels and value not in {"", "inprocess"}:
            raise ConfigurationError(
                f"{PREFIX}{label.upper()}={value!r} binds {label}, a module this service serves itself "
                f"(SEAMS_MODULES): it cannot be served elsewhere. Drop the variable from this service's "
                f"environment (it belongs to the monolith's)."
            )
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
    labels = sorted(set(labels))
    for name in sorted(environ):
        rest = name.removeprefix("SEAMS_GATEWAY_")
        if rest != name and str(environ[name]).strip() and rest != "TIMEOUT" and rest not in {label.upper() for label in labels}:
            raise ConfigurationError(
                f"{name} names no module: {rest.lower()} is not one of {', '.join(labels) or '(none)'} "
                f"(SEAMS_GATEWAY_TIMEOUT is the one other setting)."
                + did_you_mean(rest, [*labels, "timeout"], spell=lambda choice: f"SEAMS_GATEWAY_{choice.upper()}")
            )
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
