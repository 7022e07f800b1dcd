"""Argument types shared by the events app's commands."""

from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime


def moment(value: str) -> datetime:
    """An ISO 8601 time for argparse; UTC when it names no zone."""
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not an ISO 8601 time: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
