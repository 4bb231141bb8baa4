"""Settings of the shop benchmark's processes (``bench/shop.py``): the transport bench's settings
plus the plain-Django shop (``bench.plainshop``, in the ``default`` database). Never used outside
the bench."""

from bench.settings import *  # noqa: F403
from bench.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.plainshop"]
ROOT_URLCONF = "bench.plainshop.urls"
