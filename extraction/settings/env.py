"""Typed reads of the environment for settings modules.

Every Seams settings file (the monolith's ``app/settings.py``, a generated service's
``service/settings.py``) reads its variables through one ``Env``, so a value that is not what the
variable takes stops the process at start-up with a ``ConfigurationError`` naming the variable and
what it accepts, instead of a bare ``ValueError`` traceback from ``int()`` (or, for a flag, a typo
silently read as off).

``Env`` is a read-only mapping over the environment it was given, so the ``*_from_env`` helpers
(``identity_from_env(env, ...)``) take it as they take ``os.environ``.

Why not django-environ: the helpers already take a mapping (a service passes its defaults merged
with ``os.environ``), database URLs are parsed by dj-database-url, and what is left is a few typed
reads; an ``Env`` over a given mapping keeps the settings testable without touching ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from contracts.kernel import ConfigurationError

__all__ = ["FALSE", "TRUE", "Env"]

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})

# The builtins, under names the methods below do not shadow.
_str, _int, _float, _list = str, int, float, list
_N = TypeVar("_N", int, float)


class Env(Mapping[str, str]):
    """The environment a settings module reads, with typed, checked reads."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def __getitem__(self, name: _str) -> _str:
        return self.environ[name]

    def __iter__(self) -> Iterator[_str]:
        return iter(self.environ)

    def __len__(self) -> _int:
        return len(self.environ)

    def str(self, name: _str, default: _str) -> _str:
        return self.environ.get(name, default)

    def bool(self, name: _str, default: bool) -> bool:
        """``1/true/yes/on`` or ``0/false/no/off`` (any case); unset is ``default``."""
        value = self.environ.get(name)
        if value is None:
            return default
        word = value.strip().lower()
        if word in TRUE or word in FALSE:
            return word in TRUE
        raise ConfigurationError(f"{name}={value!r} is not a flag: use true or false (1/0, yes/no, on/off).")

    def int(self, name: _str, default: _int) -> _int:
        return self._number(name, default, _int, f"a whole number (default {default})")

    def float(self, name: _str, default: _float) -> _float:
        return self._number(name, default, _float, f"a number (default {default:g})")

    def _number(self, name: _str, default: _N, kind: Callable[[_str], _N], expected: _str) -> _N:
        """Unset or blank is ``default``; anything ``kind`` refuses names the variable."""
        value = self.environ.get(name)
        if value is None or not value.strip():
            return default
        try:
            return kind(value)
        except ValueError:
            raise ConfigurationError(f"{name}={value!r} is not {expected}.") from None

    def list(self, name: _str, default: _str = "") -> _list[_str]:
        """A comma-separated list, blanks dropped: ``"a, b,"`` is ``["a", "b"]``."""
        return [item.strip() for item in self.environ.get(name, default).split(",") if item.strip()]

    def path(self, name: _str, default: Path) -> Path:
        value = self.environ.get(name, "").strip()
        return Path(value) if value else default
