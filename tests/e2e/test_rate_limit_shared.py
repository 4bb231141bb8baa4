"""Rate limits on a real gunicorn with two workers, counted in Redis: one limit for the client
across both workers, not one per worker; the rest of the burst is 429 with Retry-After."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.processes import gunicorn, migrated_database, project_env
from tests.support.tokens import staff

pytestmark = pytest.mark.e2e

#: A Redis database of the tests (the default broker uses 0 and 1, the benches 7 and 11-15, which they
#: clean of "seams.*" keys); this test's keys have a prefix of their own and are removed at the end.
REDIS_URL = "redis://127.0.0.1:6379/3"
LIMIT = 40
BURST = 160


def test_a_burst_from_one_client_is_cut_at_one_limit_shared_by_every_worker(tmp_path: Path) -> None:
    prefix = f"ratetest-{uuid.uuid4().hex[:8]}"
    with migrated_database(tmp_path) as db_env:
        env = project_env(
            {
                **db_env,
                "DEBUG": "false",
                "SEAMS_API_RATE_ANONYMOUS": f"{LIMIT}/hour",
                "SEAMS_API_RATE_LIMIT_REDIS_URL": REDIS_URL,
                "SEAMS_API_RATE_LIMIT_KEY_PREFIX": prefix,
            }
        )
        try:
            with gunicorn(env, log=tmp_path / "gunicorn.log") as base:
                created = httpx.post(
                    f"{base}/api/catalog/products/",
                    json={"sku": "RL-1", "name": "Lamp", "price_cents": 100},
                    headers=staff(),
                    timeout=30,
                )
                assert created.status_code == 201, created.text

                def get(_: int) -> httpx.Response:
                    # A new connection each time, so both workers take their share of the burst.
                    return httpx.get(f"{base}/api/catalog/products/RL-1", timeout=60)

                with ThreadPoolExecutor(8) as pool:
                    answers = list(pool.map(get, range(BURST)))
        finally:
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(f"{prefix}:*"))
            if keys:
                client.delete(*keys)

    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == LIMIT, statuses
    assert statuses.count(429) == BURST - LIMIT
    limited = next(a for a in answers if a.status_code == 429)
    assert limited.json()["code"] == "seams.RateLimited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 3600
    assert keys, "the counts were kept in Redis"
