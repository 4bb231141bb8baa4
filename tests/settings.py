"""Settings for the test suite: the project's settings plus the test-only ``eventprobe`` module
(a subscriber that fails on request, to prove retries and dead letters)."""

import os

from app.settings import *  # noqa: F403
from app.settings import DATABASES, INSTALLED_APPS, VAR_DIR
from contracts.kernel.databases import module_databases

INSTALLED_APPS = [*INSTALLED_APPS, "tests.eventprobe"]
DATABASES = {
    **module_databases(["eventprobe"], database_url=os.environ.get("DATABASE_URL"), sqlite_dir=VAR_DIR),
    **DATABASES,
}
