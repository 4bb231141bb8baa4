"""What does replay protection cost per internal call?

Run ``python -m bench.identity [--rounds N] [--redis-url redis://127.0.0.1:6379/7]``.

Every token is good for one request now (a unique ``jti``, remembered by the receiver until it
expires: ``extraction.identity.replay``), so each internal call pays one Ed25519 signature on the
caller and one verification on the receiver, where before the caller reused its token for half
its minute and the receiver remembered the tokens it had verified (two dictionary look-ups per
call). This times, in one process, alternating round by round so that other load on the machine
weighs on every variant alike:

* ``reuse``: what a call cost before: the two look-ups of the old caches;
* ``issue``: ``extraction.identity.issue`` (a new token: uuid4, claims, EdDSA signature);
* ``verify (local)``: ``verify`` of a fresh token with the in-process replay record;
* ``verify (redis)``: the same with the record in Redis (one ``SET NX EX`` round trip).

It prints median microseconds per operation and what one call (issue + verify) adds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable


def _setup(redis_url: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ["SEAMS_IDENTITY_REPLAY_REDIS_URL"] = redis_url
    import django

    django.setup()


def _per_op(operation: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        operation()
    return (time.perf_counter() - start) / count * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--per-round", type=int, default=200)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    args = parser.parse_args(argv)
    _setup(args.redis_url)

    from django.conf import settings
    from django.test.utils import override_settings

    from extraction.identity import issue, verify

    local = {**settings.SEAMS_IDENTITY, "REPLAY_CACHE": None}
    shared = {**settings.SEAMS_IDENTITY, "REPLAY_CACHE": "seams-replay"}
    old_issued = {("orders", "catalog"): ("token", time.time() + 60)}
    old_verified = {("token", "catalog"): ("identity", time.time() + 60)}

    def reuse() -> object:
        return old_issued.get(("orders", "catalog")), old_verified.get(("token", "catalog"))

    def issuing() -> object:
        return issue("orders", "catalog")

    results: dict[str, list[float]] = {"reuse": [], "issue": [], "verify (local)": [], "verify (redis)": []}
    for round_ in range(args.rounds):
        order = ["reuse", "issue", "local", "redis"]
        if round_ % 2:
            order.reverse()
        for variant in order:
            if variant == "reuse":
                results["reuse"].append(_per_op(reuse, args.per_round))
            elif variant == "issue":
                results["issue"].append(_per_op(issuing, args.per_round))
            else:
                with override_settings(SEAMS_IDENTITY=local if variant == "local" else shared):
                    fresh = iter([issue("orders", "catalog") for _ in range(args.per_round)])
                    name = f"verify ({variant})"
                    results[name].append(_per_op(lambda tokens=fresh: verify(next(tokens), "catalog"), args.per_round))
    load = os.getloadavg()
    print(f"rounds={args.rounds} x {args.per_round} ops, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, value in medians.items():
        print(f"  {name:<16} {value:9.1f} us/op")
    print(f"  one call adds   {medians['issue'] + medians['verify (local)'] - medians['reuse']:9.1f} us (in-process record)")
    print(f"  one call adds   {medians['issue'] + medians['verify (redis)'] - medians['reuse']:9.1f} us (Redis record)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
