"""`make drills`: start a throwaway deployment, run every drill against it, report.

    .venv/bin/python -m bench.drills                      # all drills
    .venv/bin/python -m bench.drills redis_stopped ...    # some of them

The exit status is non-zero when a drill fails; the failing drill's process
logs are printed.
"""

import sys
import time
import traceback

from bench import support

from .cluster import LEASE_SECONDS, SWEEP_SECONDS, Cluster
from .scenarios import DRILLS


def main(names):
    unknown = [name for name in names if name not in DRILLS]
    if unknown:
        sys.exit(f"unknown drill {', '.join(unknown)}; drills: {', '.join(DRILLS)}")
    started = time.monotonic()
    cluster = Cluster()
    failed = []
    try:
        cluster.start()
        print(
            f"throwaway PostgreSQL on port {cluster.postgres.port}, Redis on {cluster.redis.port}, "
            f"gunicorn on {cluster.web_port}; run lease {LEASE_SECONDS} s, "
            f"stuck-run sweep every {SWEEP_SECONDS} s",
            flush=True,
        )
        for name in names or DRILLS:
            drill_started = time.monotonic()
            restarts_before = len(cluster.restarts)
            try:
                figures = DRILLS[name](cluster)
                figures["restarted"] = cluster.restarts[restarts_before:] or "none"
            except Exception:
                failed.append(name)
                print(f"FAIL {name} ({time.monotonic() - drill_started:.0f} s)")
                traceback.print_exc()
                print(cluster.logs())
            else:
                details = " ".join(f"{key}={value}" for key, value in figures.items())
                print(f"PASS {name} ({time.monotonic() - drill_started:.0f} s) {details}")
            sys.stdout.flush()
    finally:
        cluster.stop()
    if not failed:
        support.discard_logs()
    print(f"drills: {len(failed)} failed in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
