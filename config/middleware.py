"""Middleware every service runs."""

from django.conf import settings
from django.http import JsonResponse


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
