"""`make bench`: run every benchmark, each in its own process, and sum up their RESULT lines.

    .venv/bin/python -m bench                 # all of them
    .venv/bin/python -m bench ingest engine   # some of them

Each benchmark is a module `bench.<name>` runnable with `python -m`, printing
its figures and ending with `RESULT bench=<name> key=value ...` (or `RESULT
key=value ...`). A benchmark that fails does not stop the others; the exit
status says whether all of them ran.
"""

import subprocess
import sys
import time
from pathlib import Path

from .support import PYTHON, ROOT, machine

BENCHMARKS = ["ingest", "engine", "delays", "assignment", "teambox", "sequences", "records"]
TIMEOUT_SECONDS = 1800


def available():
    return [name for name in BENCHMARKS if (Path(__file__).parent / f"{name}.py").exists()]


def run(name):
    """Run one benchmark, echoing its output; return its RESULT line or None."""
    started = time.monotonic()
    print(f"== bench.{name}", flush=True)
    result = None
    with subprocess.Popen(
        [PYTHON, "-m", f"bench.{name}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        for line in process.stdout:
            print(line, end="", flush=True)
            if line.startswith("RESULT "):
                result = line.strip()
                if "bench=" not in result:
                    result = result.replace("RESULT ", f"RESULT bench={name} ", 1)
        try:
            process.wait(timeout=max(1, TIMEOUT_SECONDS - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            process.kill()
            print(f"bench.{name} took over {TIMEOUT_SECONDS} s and was stopped")
            return None
    if process.returncode != 0:
        print(f"bench.{name} failed (exit status {process.returncode})")
        return None
    print(f"bench.{name} took {time.monotonic() - started:.0f} s\n", flush=True)
    return result


def main(names):
    unknown = [name for name in names if name not in available()]
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; available: {', '.join(available())}")
    results = {name: run(name) for name in names or available()}
    print(f"== summary ({machine()})")
    for name, result in results.items():
        print(result if result else f"RESULT bench={name} failed=1")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
