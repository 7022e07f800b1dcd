"""Admission control at the door of placement (orders/services/admission.py), as WSGI middleware
around Django's handler (config/wsgi.py): a refused order costs no request setup, no middleware,
no authentication, no body parsing, no query and no log line, only the 503 itself. Reads and
every other URL go straight through."""

import json
import logging

from django.db import DatabaseError
from django.urls import reverse

from orders import metrics
from orders.services import admission

logger = logging.getLogger(__name__)


class AdmissionMiddleware:
    """503 with Retry-After for a new order the door does not admit; the time each admitted one
    took is told to the door."""

    def __init__(self, application):
        self.application = application
        self.placement_path = reverse("order-list")

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == self.placement_path:
            try:
                refusal = admission.DOOR.refusal()
            except DatabaseError as exc:
                # Django answers this request as it answers any while its database is away. The
                # door took no slot for it (it read the saga first), so it frees none.
                logger.warning("admission not checked: %s", exc)
                return self.application(environ, start_response)
            if refusal is not None:
                metrics.PLACEMENTS_SHED.inc()
                return _refused(refusal, start_response)
            try:
                return self.application(environ, start_response)
            finally:
                admission.DOOR.placed()
        return self.application(environ, start_response)


def _refused(refusal: admission.Refusal, start_response):
    body = json.dumps({"detail": refusal.detail}).encode()
    start_response(
        "503 Service Unavailable",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(refusal.retry_after_seconds)),
        ],
    )
    return [body]
