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

import difflib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from contracts.kernel import ConfigurationError

__all__ = ["FALSE", "TRUE", "Env", "did_you_mean"]

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})

# The builtins, under names the methods below do not shadow.
_str, _int, _float, _list = str, int, float, list
_N = TypeVar("_N", int, float)


def did_you_mean(word: str, choices: Sequence[str], *, spell: Callable[[str], str] = lambda choice: choice) -> str:
    """`` Did you mean <closest>?`` (``difflib.get_close_matches``, any case), or nothing; ``spell``
    writes the choice as the user should type it (``SEAMS_BIND_CATALOG`` for ``catalog``)."""
    canonical = {choice.lower(): choice for choice in choices}
    matches = difflib.get_close_matches(word.lower(), list(canonical), n=1)
    return f" Did you mean {spell(canonical[matches[0]])}?" if matches else ""


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

    # Every read takes an unset, empty or blank variable as unset (``FOO=`` in a compose file or a
    # shell), and strips the value: ``" 5 "`` is 5, ``" full "`` is FULL.

    def _value(self, name: _str) -> _str | None:
        value = self.environ.get(name)
        return value.strip() if value is not None and value.strip() else None

    def str(self, name: _str, default: _str) -> _str:
        value = self._value(name)
        return default if value is None else value

    def bool(self, name: _str, default: bool) -> bool:
        """``1/true/yes/on`` or ``0/false/no/off`` (any case); unset or blank is ``default``."""
        value = self._value(name)
        if value is None:
            return default
        word = value.lower()
        if word in TRUE or word in FALSE:
            return word in TRUE
        raise ConfigurationError(
            f"{name}={self.environ[name]!r} is not a flag: use true or false (1/0, yes/no, on/off)."
        )

    def choice(self, name: _str, default: _str, choices: Sequence[_str]) -> _str:
        """One of ``choices``, in any case (``full`` is ``FULL``); unset or blank is ``default``."""
        value = self._value(name)
        if value is None:
            return default
        canonical = {choice.lower(): choice for choice in choices}
        if value.lower() in canonical:
            return canonical[value.lower()]
        raise ConfigurationError(
            f"{name}={self.environ[name]!r} is not one of {', '.join(choices)} (any case; default {default})."
        )

    def int(self, name: _str, default: _int, *, at_least: _int | None = None) -> _int:
        """A whole number, at least ``at_least`` when given; unset or blank is ``default``."""
        return self._number(name, default, _int, "a whole number", at_least=at_least)

    def float(self, name: _str, default: _float, *, at_least: _float | None = None, above: _float | None = None) -> _float:
        """A finite number, at least ``at_least`` or more than ``above`` when given; unset or blank is ``default``."""
        return self._number(name, default, _float, "a number", at_least=at_least, above=above)

    def _number(
        self,
        name: _str,
        default: _N,
        kind: Callable[[_str], _N],
        noun: _str,
        *,
        at_least: _N | None = None,
        above: _N | None = None,
    ) -> _N:
        """Unset or blank is ``default``; anything ``kind`` refuses, or out of range, names the variable."""
        value = self._value(name)
        if value is None:
            return default
        expected = noun + (f" of at least {at_least:g}" if at_least is not None else "")
        expected += f" above {above:g}" if above is not None else ""
        try:
            number = kind(value)
        except ValueError:
            number = None
        if (
            number is None
            or not math.isfinite(number)
            or (at_least is not None and number < at_least)
            or (above is not None and number <= above)
        ):
            raise ConfigurationError(f"{name}={self.environ[name]!r} is not {expected} (default {default:g}).")
        return number

    def list(self, name: _str, default: _str = "", *, choices: Sequence[_str] | None = None) -> _list[_str]:
        """A comma-separated list, blanks dropped: ``"a, b,"`` is ``["a", "b"]``; with ``choices``,
        each item one of them in any case."""
        items = [item.strip() for item in self.environ.get(name, default).split(",") if item.strip()]
        if choices is None:
            return items
        canonical = {choice.lower(): choice for choice in choices}
        unknown = [item for item in items if item.lower() not in canonical]
        if unknown:
            raise ConfigurationError(
                f"{name}={self.environ.get(name, default)!r} names {', '.join(unknown)}: use a comma-separated "
                f"list of {', '.join(choices)}.{did_you_mean(unknown[0], choices)}"
            )
        return [canonical[item.lower()] for item in items]

    def url(self, name: _str, default: _str, *, schemes: Sequence[_str] | None = None) -> _str:
        """A URL ``<scheme>://...``, its scheme one of ``schemes`` when given; unset or blank is ``default``."""
        value = self._value(name)
        if value is None:
            return default
        scheme = urlsplit(value).scheme.lower() if "://" in value else ""
        if scheme and (schemes is None or scheme in schemes):
            return value
        expected = f"starting with {', '.join(f'{s}://' for s in schemes)}" if schemes else "of the form <scheme>://..."
        raise ConfigurationError(f"{name}={self.environ[name]!r} is not a URL {expected}.")

    def dotted(self, name: _str, default: _str) -> _str:
        """A dotted path ``package.module.Name`` (a backend class); unset or blank is ``default``. Only
        its form is checked here: importing it is ``manage.py check``'s (seams.E019, seams.E020),
        after the settings and the apps are loaded."""
        value = self._value(name)
        if value is None:
            return default
        if len(parts := value.split(".")) > 1 and all(part.isidentifier() for part in parts):
            return value
        raise ConfigurationError(
            f"{name}={self.environ[name]!r} is not a dotted path to a class, package.module.Name (default {default})."
        )

    def path(self, name: _str, default: Path, *, create: bool = False) -> Path:
        """A path; unset or blank is ``default``. ``create``: a directory, made if missing (parents
        too); one that cannot be made names the variable."""
        value = self._value(name)
        path = Path(value) if value else default
        if create:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(
                    f"{name}={_str(path)!r} is not a directory this process can create or write: {exc.strerror or exc}."
                ) from None
        return path
