"""One stretch of load at a constant rate: Locust, headless, in a process of its own, running
bench/locustfile.py. Each request lands in the samples file as it finishes."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from bench import stack

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def load_run(*, rate: float, duration: float, fixtures: Path, samples: Path) -> None:
    """Offer `rate` orders per second for `duration` seconds; returns when Locust has stopped."""
    process = load_start(rate=rate, duration=duration, fixtures=fixtures, samples=samples)
    load_wait(process, timeout=duration + 120)


def load_start(*, rate: float, duration: float, fixtures: Path, samples: Path) -> subprocess.Popen:
    """Start offering `rate` orders per second, for `duration` seconds at most (load_stop ends it sooner)."""
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
    return subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def load_stop(process: subprocess.Popen) -> None:
    """Stop the load now; Locust lets the requests in flight finish and records them."""
    process.send_signal(signal.SIGTERM)
    load_wait(process, timeout=60)


def load_wait(process: subprocess.Popen, timeout: float) -> None:
    _, errors = process.communicate(timeout=timeout)
    # Locust exits 1 when any request failed; the report counts failures, so that is not an error here.
    if process.returncode not in (0, 1, -signal.SIGTERM):
        raise RuntimeError(f"locust exited {process.returncode}: {errors[-2000:]}")
