"""Middleware every service runs."""

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

from config.errors import API_PREFIXES


class RequestBodyLimitMiddleware:
    """413 for a request whose declared body is larger than MAX_REQUEST_BODY_BYTES, before
    anything reads it (Django's own limit would answer 400)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BODY_BYTES:
            return JsonResponse(
                {"detail": f"request body too large: at most {settings.MAX_REQUEST_BODY_BYTES} bytes"},
                status=413,
            )
        return self.get_response(request)


NUL_REFUSED = "the URL holds a NUL character (%00): remove it from the path and query string"


class NulCharacterMiddleware:
    """400 for a URL whose path or query string holds a NUL character (%00), before any view
    passes it to the database: PostgreSQL text cannot hold one, and would answer with an error
    (a 500) instead of "no such thing". No path or parameter of these services is meant to hold one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any(
            "\x00" in name or any("\x00" in value for value in values) for name, values in request.GET.lists()
        ):
            return JsonResponse({"detail": NUL_REFUSED}, status=400)
        return self.get_response(request)


DATABASE_UNAVAILABLE = (
    "the service's database did not answer; retry in a few seconds (a placement sent again with the "
    "same Idempotency-Key header is not placed twice)"
)


class DatabaseUnavailableMiddleware:
    """503 with Retry-After, not a 500, for an API request whose database connection failed (a
    database restarting or failing over): the client did nothing wrong and can retry. Whatever the
    request was writing is rolled back with its transaction."""

    RETRY_AFTER_SECONDS = 2

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        if not request.path.startswith(API_PREFIXES):
            return None
        response = JsonResponse({"detail": DATABASE_UNAVAILABLE}, status=503)
        response["Retry-After"] = str(self.RETRY_AFTER_SECONDS)
        return response
