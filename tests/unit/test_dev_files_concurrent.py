"""Development secrets generated on first use by several processes at once: gunicorn's workers
importing the settings together on a fresh ``var/``, or two runs' first requests.

Each file must be created whole and once: every process then reads the same, complete value. Before,
the SECRET_KEY file was created empty and then written (a second process read "" or died on
FileExistsError: 4 of 30 rounds of 4 processes), and two processes making the API key pair could
leave one's private key beside the other's JWKS (1 of 30), so tokens signed with it were refused.
Rounds of processes released together by a barrier; counts, not timings.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from contracts.kernel.public.devkeys import ensure_dev_keys
from extraction.hardening import secret_key_from_env

ROUNDS, PROCESSES = 40, 4


def _secret(var: str, barrier: object, results: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        results.put(secret_key_from_env({}, debug=True, var_dir=Path(var)))  # type: ignore[attr-defined]
    except Exception as exc:
        results.put(f"error: {type(exc).__name__}: {exc}")  # type: ignore[attr-defined]


def _keys(directory: str, barrier: object, results: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        private, public = ensure_dev_keys(directory)
        results.put("ok")  # type: ignore[attr-defined]
    except Exception as exc:
        results.put(f"error: {type(exc).__name__}: {exc}")  # type: ignore[attr-defined]


def _race(target: object, directory: Path) -> list[str]:
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    processes = [context.Process(target=target, args=(str(directory), barrier, results)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return outcomes


def test_processes_generating_the_secret_key_at_once_all_read_the_same_whole_key(tmp_path: Path) -> None:
    for n in range(ROUNDS):
        var = tmp_path / f"var{n}"
        keys = _race(_secret, var)
        written = (var / "dev-keys" / "django-secret-key").read_text()
        assert len(written) >= 50 and keys == [written] * PROCESSES, (n, keys)


def test_processes_generating_the_api_key_pair_at_once_leave_a_matching_pair(tmp_path: Path) -> None:
    for n in range(ROUNDS):
        directory = tmp_path / f"keys{n}"
        assert _race(_keys, directory) == ["ok"] * PROCESSES
        key = serialization.load_pem_private_key((directory / "api-signing-key.pem").read_bytes(), None)
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        (published,) = json.loads((directory / "api-jwks.json").read_text())["keys"]
        assert published["kid"] == hashlib.sha256(raw).hexdigest()[:16], n
        assert sorted(p.name for p in directory.iterdir()) == ["api-jwks.json", "api-signing-key.pem"], n
