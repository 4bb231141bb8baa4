"""Settings for the test suite: the project's settings plus the test-only ``eventprobe`` module
(a subscriber that fails on request, to prove retries and dead letters)."""

import os

from tests.support.tokens import api_env

# The tests run with DEBUG on (as `make test` does) and check tokens signed by their own key pair.
os.environ.setdefault("DEBUG", "true")
for _name, _value in api_env().items():
    os.environ.setdefault(_name, _value)

from app.settings import *  # noqa: E402, F403
from app.settings import DATABASES, INSTALLED_APPS, VAR_DIR  # noqa: E402
from contracts.kernel.databases import module_databases  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "tests.eventprobe"]
DATABASES = {
    **module_databases(["eventprobe"], database_url=os.environ.get("DATABASE_URL"), sqlite_dir=VAR_DIR),
    **DATABASES,
}
