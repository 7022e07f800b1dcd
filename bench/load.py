"""One stretch of load at a constant rate: Locust, headless, in a process of its own, running
bench/locustfile.py. Each request lands in the samples file as it finishes."""

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

from bench import stack

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# Loaded here, in the parent: between fork and exec the child should only make the call.
_LIBC = ctypes.CDLL(None, use_errno=True)


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
        command,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_end_with_parent,
    )


def _end_with_parent() -> None:
    """In the child, before Locust starts: SIGTERM when the benchmark's process dies, however it
    dies (Linux's PR_SET_PDEATHSIG), so a crashed run leaves no load running behind it."""
    if _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def load_stop(process: subprocess.Popen) -> None:
    """Stop the load now; Locust lets the requests in flight finish and records them."""
    process.send_signal(signal.SIGTERM)
    load_wait(process, timeout=60)


def load_wait(process: subprocess.Popen, timeout: float) -> None:
    _, errors = process.communicate(timeout=timeout)
    # Locust exits 1 when any request failed; the report counts failures, so that is not an error here.
    if process.returncode not in (0, 1, -signal.SIGTERM):
        raise RuntimeError(f"locust exited {process.returncode}: {errors[-2000:]}")
