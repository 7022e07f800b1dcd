import json
import logging

from pythonjsonlogger.json import JsonFormatter

from events import logcontext


def render(record: logging.LogRecord) -> dict:
    logcontext.ContextFilter().filter(record)
    return json.loads(JsonFormatter("%(levelname)s %(message)s").format(record))


def test_log_lines_carry_the_ids_of_the_work_in_hand_and_drop_them_after():
    def record():
        return logging.LogRecord("events", logging.INFO, __file__, 1, "applied", None, None)

    with logcontext.bind(correlation_id="order-1"), logcontext.bind(event_id="e-1"):
        inside = render(record())
    outside = render(record())

    assert inside["correlation_id"] == "order-1"
    assert inside["event_id"] == "e-1"
    assert "event_id" not in outside
