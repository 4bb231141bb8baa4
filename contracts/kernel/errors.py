"""Exceptions of the kernel.

Two families, kept apart on purpose:

* ``SeamsError`` and its subclasses report a *programming or configuration* mistake (an undeclared
  dependency, a late registration, an unknown name). They are never caught by the public API.
* ``ContractError`` and its subclasses are *business outcomes* declared in ``contracts/`` (a product
  that does not exist, stock that ran out). They cross module boundaries, whatever the transport,
  and the public API maps each kind (``NotFound``, ``Conflict``, ``Invalid``, ``ServiceUnavailable``)
  to one HTTP status in one place (``extraction.wire.STATUS_BY_KIND``, used by ``app/api.py``).
"""

from __future__ import annotations

from typing import Any, ClassVar


class SeamsError(Exception):
    """Base of every framework error: something in code or configuration must change."""


class ConfigurationError(SeamsError):
    """Settings or a module manifest are inconsistent."""


class RegistryFrozen(SeamsError):
    """A registration arrived after start-up, when the registries are frozen."""


class NotReady(SeamsError):
    """The kernel was used before Django finished loading the apps."""


class UnknownName(SeamsError, LookupError):
    """A registry was asked for a name it does not know."""


class UndeclaredDependency(SeamsError):
    """A module used a contract or event that its manifest does not declare."""


class ContractViolation(SeamsError, TypeError):
    """A value crossing a contract boundary does not match the declared type."""


class Undeliverable(Exception):
    """An event can never be handled as it is (unknown type or subscriber, schema drift): its
    publication goes straight to dead letter with this reason instead of being retried."""


class ContractError(Exception):
    """Base of business errors declared in ``contracts/<module>.py``.

    Subclass one of the kinds below. A contract error carries a message and JSON-able details so
    that a transport can rebuild the same exception on the caller's side; ``ContractError.by_code``
    finds the class again from its ``code`` (``"catalog.ProductNotFound"``).
    """

    code: ClassVar[str] = "seams.ContractError"
    by_code: ClassVar[dict[str, type[ContractError]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        module = cls.__module__
        if module.startswith("contracts.kernel"):
            owner = "seams"
        elif module.startswith(("contracts.", "modules.")):
            # contracts.catalog / modules.catalog.services -> "catalog": a code names the module that
            # owns the error, never a Python path (which would change when code moves).
            owner = module.split(".")[1]
        else:
            owner = module
        cls.code = f"{owner}.{cls.__name__}"
        ContractError.by_code[cls.code] = cls

    def __init__(self, message: str = "", **details: Any) -> None:
        self.message = message or (self.__doc__ or self.__class__.__name__).strip().splitlines()[0]
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class NotFound(ContractError):
    """The thing asked for does not exist."""


class Conflict(ContractError):
    """The request conflicts with the current state (a duplicate, a wrong status)."""


class Invalid(ContractError):
    """The input is well-formed but not acceptable; ``field`` names the offending input."""

    def __init__(self, message: str = "", *, field: str | list[str | int] | None = None, **details: Any) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


class ServiceUnavailable(ContractError):
    """The module serving a contract could not be reached; retrying later may succeed."""
