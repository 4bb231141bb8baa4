"""Settings of the transport benchmark's processes (``bench/transports.py``): the project's settings,
plus the hand-written baseline endpoint in the URLconf. Never used outside the bench."""

from app.settings import *  # noqa: F403

ROOT_URLCONF = "bench.baseline.urls"
