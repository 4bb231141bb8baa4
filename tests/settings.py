"""Settings for the test suite: the project's settings plus the test-only ``probe`` module."""

from app.settings import *  # noqa: F403
from app.settings import DATABASES, INSTALLED_APPS, SEAMS_MODULES, VAR_DIR
from contracts.kernel.databases import module_databases

INSTALLED_APPS = [*INSTALLED_APPS, "tests.probe"]
DATABASES = {**DATABASES, "probe": module_databases(["probe"], database_url=__import__("os").environ.get("DATABASE_URL"), sqlite_dir=VAR_DIR)["probe"]}
SEAMS_TEST_MODULES = [*SEAMS_MODULES, "probe"]
