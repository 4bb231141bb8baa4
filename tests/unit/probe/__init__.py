"""A throwaway Seams module that only the kernel unit tests install (``probe_module`` fixture).

It lives outside ``modules/`` so that the project never loads it, keeps its (non-existent) tables
in the ``catalog`` alias, consumes ``Catalog`` and publishes ``ProbeHappened``: enough to drive
``publish()`` and ``use()`` through their real code paths without touching a real module.
"""
