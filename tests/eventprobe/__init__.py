"""A test-only module that subscribes to the shop's events and fails on request.

It exists to prove the event machinery under failure: an order whose customer email starts with
``flaky`` makes its handler fail twice before it succeeds, ``once`` makes it fail only its first
attempt in this process (with ``SEAMS_EVENT_MAX_ATTEMPTS=1``: a dead letter one resubmit completes),
``doomed`` makes it fail every time.
Installed only by ``tests/settings.py``.
"""
