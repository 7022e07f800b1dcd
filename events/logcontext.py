"""Fields that every log line of the current unit of work carries (correlation_id, event_id ...).

    with logcontext.bind(event_id=envelope.event_id, correlation_id=envelope.correlation_id):
        ...every log record in here carries both...

ContextFilter (installed on the root handler by the logging settings) copies them onto records,
and the JSON formatter writes them out.
"""

import contextlib
import contextvars
import logging

_fields: contextvars.ContextVar[dict | None] = contextvars.ContextVar("log_fields", default=None)


@contextlib.contextmanager
def bind(**fields):
    token = _fields.set({**(_fields.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _fields.reset(token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_fields.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True
