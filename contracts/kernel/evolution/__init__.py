"""Contracts that evolve safely: a committed snapshot of the published language and a check that
a change to it does not break a caller, provider, publisher or subscriber deployed separately.

* ``describe.py`` — the published language as plain JSON (``manage.py contracts snapshot``).
* ``compare.py`` — what changed between two descriptions, each change breaking or additive.
"""

from .compare import Change, compare
from .describe import SNAPSHOT_FORMAT, describe_published_language

__all__ = ["SNAPSHOT_FORMAT", "Change", "compare", "describe_published_language"]
