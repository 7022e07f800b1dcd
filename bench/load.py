"""One stretch of load at a constant rate: Locust, headless, in a process of its own, running
bench/locustfile.py. Each request lands in the samples file as it finishes."""

import os
import subprocess
import sys
from pathlib import Path

from bench import stack

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def load_run(*, rate: float, duration: float, fixtures: Path, samples: Path) -> None:
    """Offer `rate` orders per second for `duration` seconds; returns when Locust has stopped."""
    environment = os.environ | {
        "BENCH_RATE": str(rate),
        "BENCH_DURATION": str(duration),
        "BENCH_FIXTURES": str(fixtures),
        "BENCH_SAMPLES": str(samples),
    }
    command = [
        str(Path(sys.executable).with_name("locust")),
        "--locustfile",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        stack.url("orders"),
        # In-flight orders finish (and are counted) after the shape ends.
        "--stop-timeout",
        "15",
        "--loglevel",
        "WARNING",
        "--only-summary",
    ]
    # Locust exits 1 when any request failed; the report counts failures, so that is not an error here.
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=duration + 120)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"locust exited {result.returncode}: {result.stderr[-2000:]}")
