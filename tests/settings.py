"""Settings for the test suite: the project's settings plus the test-only ``eventprobe`` module
(a subscriber that fails on request, to prove retries and dead letters).

The test run has one service key of its own (``SEAMS_IDENTITY_KEY``, made here unless given), put
in the environment so that the server processes the tests start (``tests/support/processes.py``)
inherit it: they are the same service, "monolith", and trust each other as one.
"""

import json
import os
from pathlib import Path

from contracts.kernel.discovery import discover_modules
from extraction.identity.keys import generate_private_pem, load_private_key, public_text

os.environ.setdefault("SEAMS_IDENTITY_KEY", generate_private_pem())
# Test servers often run a subset of the modules (SEAMS_MODULES=notifications) under the same name
# and key: they trust "monolith" for every module, as the processes of one service.
os.environ.setdefault(
    "SEAMS_IDENTITY_PEERS",
    json.dumps({"monolith": {"modules": [*discover_modules(Path(__file__).resolve().parent.parent / "modules"), "eventprobe"],
                             "keys": [public_text(load_private_key(os.environ["SEAMS_IDENTITY_KEY"], "SEAMS_IDENTITY_KEY"))]}}),
)
# No module consumes Inventory or Orders, yet the parity suite calls them over every transport, as
# "orders" and "inventory" respectively (tests.support.identity.TEST_CALLERS); and a test server
# that serves only some modules from this code (SEAMS_MODULES=catalog) cannot read the consumers'
# manifests, so it is told, as extract_module tells a generated service.
os.environ.setdefault(
    "SEAMS_ALLOWED_CALLERS",
    json.dumps({"catalog.Catalog": ["inventory", "orders"], "inventory.Inventory": ["orders"], "orders.Orders": ["inventory"]}),
)

from tests.support.tokens import api_env  # noqa: E402

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

#: In-process tests call every module's internal endpoints with the test client (the servers the
#: tests start keep the real default, "auto", unless a test says otherwise).
SEAMS_INTERNAL = {"MODULES": "all", "PORT": None}
