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
