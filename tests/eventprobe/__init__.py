"""A test-only module that subscribes to the shop's events and fails on request.

It exists to prove the event machinery under failure: an order whose customer email starts with
``flaky`` makes its handler fail twice before it succeeds, ``doomed`` makes it fail every time.
Installed only by ``tests/settings.py``.
"""
