"""Time ``manage.py check``'s Seams checks in the project of the current directory (run by bench/boundaries.py).

``python bench/seams_checks.py`` (as a script, with the project on ``PYTHONPATH`` and
``DJANGO_SETTINGS_MODULE`` set) sets Django up, then runs the checks registered under the ``seams``
tag (``contracts.kernel.checks.check_boundaries``: the source checks E002/E006/E013/E015/E016, the
call cycles E014, relations, implementations, events, the baseline) and prints one JSON line: the
CPU and wall seconds of the checks alone, of Django's start-up (paid by every ``manage.py`` command,
checks or not), and the ids of the errors found. Only the standard library and the project are imported.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    sys.path.insert(0, os.getcwd())
    cpu, wall = time.process_time(), time.perf_counter()
    import django

    django.setup()
    setup_cpu, setup_wall = time.process_time() - cpu, time.perf_counter() - wall
    from contracts.kernel.checks import check_boundaries

    cpu, wall = time.process_time(), time.perf_counter()
    errors = check_boundaries()
    checks_cpu, checks_wall = time.process_time() - cpu, time.perf_counter() - wall
    print(
        json.dumps(
            {
                "cpu": checks_cpu,
                "wall": checks_wall,
                "setup_cpu": setup_cpu,
                "setup_wall": setup_wall,
                "errors": sorted({e.id for e in errors}),
                "messages": [e.msg for e in errors][:5],
            }
        )
    )


if __name__ == "__main__":
    main()
