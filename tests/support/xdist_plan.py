"""How ``make test`` shares the suite between two pytest-xdist workers (``-n 2 --dist loadfile``).

Most of the suite's time is spent waiting on real processes (gunicorn, Celery workers, relays,
``manage.py``), so two workers on two cores roughly halve the wall time. What keeps that safe and
worth it:

* **A test file is one unit of work** (``loadfile``): its module-scoped fixtures (a served
  extraction, a running service) start once, on one worker. The parity suite is one unit across
  its files, so its session-scoped processes (``served_shop``) start once too.
* **Longest work first**: a worker takes the files that start real processes (``e2e``) before
  the rest, and the in-process tests last: they are many small units that even out the end. Within
  the in-process tests pytest-django's order stands (``db`` before ``transactional_db`` tests).
* Each worker has its own test databases (pytest-django's ``_gw<N>`` suffix, applied by
  ``django_db_setup`` in ``tests/conftest.py``); every process, file, port, PostgreSQL database and
  Redis key a test makes is already its own (free ports, ``tmp_path``, uuid names and prefixes).

Without ``-n`` nothing here changes the run.
"""

from __future__ import annotations

from typing import Any

import pytest

#: Test directories whose files share a session-scoped fixture: one unit of work each.
SHARED_SESSION_DIRS = ("tests/integration/parity/",)


def _rank(item: pytest.Item) -> int:
    """0: starts real processes; 1: no database; 2: ``db``; 3: ``transactional_db`` (last, as
    pytest-django orders them: such a test flushes the tables other tests expect migrated)."""
    if item.get_closest_marker("e2e"):
        return 0
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", ())
    transactional = bool(marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")))
    transactional = transactional or "transactional_db" in fixtures or "live_server" in fixtures
    if transactional:
        return 3
    if marker or "db" in fixtures:
        return 2
    return 1


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker, order the collection as the work should be handed out (stable sort:
    the order within a rank is pytest-django's). Every worker sorts the same collection the same
    way, as xdist requires."""
    if not hasattr(config, "workerinput"):
        return
    items.sort(key=_rank)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, with each of ``SHARED_SESSION_DIRS`` one unit, handed out in the
    collection's order (not xdist's default of the units with the most tests first)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FilesInOrder(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            for directory in SHARED_SESSION_DIRS:
                if nodeid.startswith(directory):
                    return directory
            return super()._split_scope(nodeid)

    config.option.loadscopereorder = False
    return FilesInOrder(config, log)
