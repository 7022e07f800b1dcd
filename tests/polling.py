"""Polling with a deadline: how tests wait for a condition instead of sleeping."""

import time

import pytest


def wait_until(condition, *, timeout: float, interval: float = 0.1, message: str = "condition"):
    """Poll `condition` until it returns a truthy value (returned) or `timeout` seconds pass (fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
