"""One stretch of load at a constant rate: Locust, headless, in a process of its own, running
bench/locustfile.py. Each request lands in the samples file as it finishes."""

import ctypes
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench import stack

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# Loaded here, in the parent: between fork and exec the child should only make the call.
_LIBC = ctypes.CDLL(None, use_errno=True)


def load_run(*, rate: float, duration: float, fixtures: Path, samples: Path) -> None:
    """Offer `rate` orders per second for `duration` seconds; returns when Locust has stopped."""
    load = load_start(rate=rate, duration=duration, fixtures=fixtures, samples=samples)
    load_wait(load.process, timeout=duration + 120)


@dataclass
class Load:
    process: subprocess.Popen
    # Its presence ends the load (bench/locustfile.py's shape looks for it every second).
    stop_file: Path


def load_start(*, rate: float, duration: float, fixtures: Path, samples: Path) -> Load:
    """Start offering `rate` orders per second, for `duration` seconds at most (load_stop ends it sooner)."""
    stop_file = samples.with_suffix(".stop")
    stop_file.unlink(missing_ok=True)
    environment = os.environ | {
        "BENCH_RATE": str(rate),
        "BENCH_DURATION": str(duration),
        "BENCH_FIXTURES": str(fixtures),
        "BENCH_SAMPLES": str(samples),
        "BENCH_STOP_FILE": str(stop_file),
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
    process = subprocess.Popen(
        command,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_end_with_parent,
    )
    return Load(process, stop_file)


def _end_with_parent() -> None:
    """In the child, before Locust starts: SIGTERM when the benchmark's process dies, however it
    dies (Linux's PR_SET_PDEATHSIG), so a crashed run leaves no load running behind it."""
    if _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def load_stop(load: Load) -> None:
    """Stop the load now: the shape ends, and Locust lets the orders in flight finish and records
    them (--stop-timeout) before it exits. A SIGTERM would not: on 2026-11-30 a chaos run stopped
    that way found 8 orders in the database that no recorded answer accounted for, the requests
    in flight at the signal."""
    load.stop_file.touch()
    try:
        load_wait(load.process, timeout=60)
    except subprocess.TimeoutExpired:
        load.process.send_signal(signal.SIGTERM)  # it did not end by itself: end it now
        load_wait(load.process, timeout=60)
    finally:
        load.stop_file.unlink(missing_ok=True)


def load_wait(process: subprocess.Popen, timeout: float) -> None:
    _, errors = process.communicate(timeout=timeout)
    # Locust exits 1 when any request failed; the report counts failures, so that is not an error here.
    if process.returncode not in (0, 1, -signal.SIGTERM):
        raise RuntimeError(f"locust exited {process.returncode}: {errors[-2000:]}")
