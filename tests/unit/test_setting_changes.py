"""The kernel's cached views of settings are refreshed when a setting changes (override_settings).

Django keeps signal receivers through weak references. A lambda receiver survives only while
Django's own inspection cache happens to hold it (under DEBUG, until evicted); this test empties
that cache first, so a receiver that nobody else references is seen to vanish.
"""

import gc

from django.test import override_settings
from django.utils import inspect as django_inspect

from contracts.kernel import EventBackend, InlineEventBackend
from contracts.kernel.bus import event_backend
from contracts.kernel.outbox import outbox_settings


class QuietBackend(EventBackend):
    def publish(self, envelope: object, using: str) -> None:
        pass


def forget_djangos_references() -> None:
    django_inspect._get_func_parameters.cache_clear()
    gc.collect()


def test_the_event_backend_follows_the_setting() -> None:
    forget_djangos_references()
    with override_settings(SEAMS_EVENT_BACKEND=f"{__name__}.QuietBackend"):
        assert isinstance(event_backend(), QuietBackend)
    with override_settings(SEAMS_EVENT_BACKEND="contracts.kernel.bus.InlineEventBackend"):
        assert type(event_backend()) is InlineEventBackend


def test_the_outbox_settings_follow_the_setting() -> None:
    forget_djangos_references()
    default_batch = outbox_settings().relay_batch
    with override_settings(SEAMS_EVENTS={"RELAY_BATCH": default_batch + 1}):
        assert outbox_settings().relay_batch == default_batch + 1
    assert outbox_settings().relay_batch == default_batch
