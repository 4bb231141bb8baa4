"""Bindings from the environment: one variable per module says how its contracts are served.

``SEAMS_BIND_<LABEL>`` (the module label in upper case):

* unset, empty or ``inprocess``: in-process (the default);
* ``http://host:port[/prefix]`` or ``https://...``: the HTTP transport, with that base URL;
* ``celery``: the Celery transport, on queue ``seams.rpc.<label>`` of ``CELERY_BROKER_URL``.

Optional companions: ``SEAMS_BIND_<LABEL>_TIMEOUT`` (seconds, default 5) and, for Celery,
``SEAMS_BIND_<LABEL>_QUEUE``. The result is the kernel's ``SEAMS_BINDINGS`` setting, so switching
a module between in-process and a service is one environment line and no code change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from contracts.kernel import ConfigurationError

__all__ = ["DEFAULT_TIMEOUT", "bindings_from_env", "rpc_queue"]

DEFAULT_TIMEOUT = "5"


def rpc_queue(label: str) -> str:
    """The Celery queue that serves ``label``'s contract calls unless configured otherwise."""
    return f"seams.rpc.{label}"


def bindings_from_env(environ: Mapping[str, str], labels: Iterable[str]) -> dict[str, dict[str, str]]:
    """Read ``SEAMS_BIND_*`` for each module label; in-process modules are left out."""
    bindings: dict[str, dict[str, str]] = {}
    for label in labels:
        name = f"SEAMS_BIND_{label.upper()}"
        value = environ.get(name, "").strip()
        timeout = environ.get(f"{name}_TIMEOUT", DEFAULT_TIMEOUT).strip()
        try:
            if float(timeout) <= 0:
                raise ValueError
        except ValueError:
            raise ConfigurationError(f"{name}_TIMEOUT must be a positive number of seconds, got {timeout!r}.") from None
        if value in {"", "inprocess"}:
            continue
        if value.startswith(("http://", "https://")):
            bindings[label] = {"TRANSPORT": "http", "URL": value.rstrip("/"), "TIMEOUT": timeout}
        elif value == "celery":
            queue = environ.get(f"{name}_QUEUE", "").strip() or rpc_queue(label)
            bindings[label] = {"TRANSPORT": "celery", "QUEUE": queue, "TIMEOUT": timeout}
        else:
            raise ConfigurationError(
                f"{name}={value!r} is not a binding. Use 'inprocess', an http(s):// base URL of the "
                f"service, or 'celery'."
            )
    return bindings
