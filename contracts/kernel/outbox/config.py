"""``settings.SEAMS_EVENTS``, read once and cached until a setting changes (``override_settings``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, lru_cache

from django.conf import settings
from django.core.signals import setting_changed

#: The dispatch modes (``SEAMS_EVENTS['DISPATCH']``); ``dispatch.DISPATCHERS`` maps each to its class.
DISPATCH_MODES = ("inline", "celery")
COMPLETION_MODES = ("keep", "delete", "archive")


@dataclass(frozen=True)
class OutboxSettings:
    """``settings.SEAMS_EVENTS``, with defaults."""

    dispatch: str = "inline"
    max_attempts: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    lease: float = 60.0
    stale_after: float = 30.0
    completion: str = "keep"
    queue_prefix: str = "seams."
    relay_batch: int = 500
    #: Publications one ``seams.deliver_publications`` task drains (Celery dispatch).
    drain_batch: int = 50
    #: The fast path's completion marks that the handler's transaction cannot write (the publisher's
    #: database is another SQLite file) wait up to this many seconds, or until this many wait, and
    #: are written together (``completions``); 0 writes each at once. Never more than a quarter of
    #: ``lease``: a mark is always written long before anyone else may take its publication.
    completion_delay: float = 0.25
    completion_batch: int = 100
    #: PostgreSQL: the outbox's own statements run prepared, parsed and planned once per connection
    #: (``prepared``). False behind a pooler that cannot keep them (PgBouncer in transaction mode
    #: before 1.21, or without ``max_prepared_statements``).
    prepared_statements: bool = True

    @cached_property  # read on every publish and handled event: worked out once per settings
    def completion_wait(self) -> float:
        """How long a completion mark may wait: ``completion_delay``, at most a quarter of ``lease``."""
        return min(self.completion_delay, self.lease / 4)

    @classmethod
    def from_settings(cls) -> OutboxSettings:
        raw = {k.lower(): v for k, v in getattr(settings, "SEAMS_EVENTS", {}).items()}
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"Unknown SEAMS_EVENTS keys: {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        config = cls(**raw)
        if config.dispatch not in DISPATCH_MODES:
            raise ValueError(f"SEAMS_EVENTS['DISPATCH'] must be one of {sorted(DISPATCH_MODES)}, got {config.dispatch!r}")
        if config.completion_delay < 0 or config.completion_batch < 1:
            raise ValueError(
                "SEAMS_EVENTS['COMPLETION_DELAY'] must be at least 0 and COMPLETION_BATCH at least 1;"
                f" got {config.completion_delay!r} and {config.completion_batch!r}"
            )
        if not isinstance(config.prepared_statements, bool):
            raise ValueError(f"SEAMS_EVENTS['PREPARED_STATEMENTS'] must be True or False, got {config.prepared_statements!r}")
        if config.completion not in COMPLETION_MODES:
            raise ValueError(f"SEAMS_EVENTS['COMPLETION'] must be keep, delete or archive, got {config.completion!r}")
        return config


@lru_cache(maxsize=1)
def outbox_settings() -> OutboxSettings:
    return OutboxSettings.from_settings()


@lru_cache(maxsize=1)
def _use_tz() -> bool:
    return bool(settings.USE_TZ)


def now() -> datetime:
    """``django.utils.timezone.now()`` without its lookup of ``settings.USE_TZ`` (through the lazy
    settings object, ~25 Python bytecodes) on every call: read once per settings."""
    return datetime.now(UTC) if _use_tz() else datetime.now()


def _forget_settings(**_: object) -> None:
    outbox_settings.cache_clear()
    _use_tz.cache_clear()


# A named function: signals keep weak references, so a lambda receiver would vanish.
setting_changed.connect(_forget_settings)
