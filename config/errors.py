"""The error pages Django serves before or around a view: JSON under the APIs, HTML elsewhere.

Django answers some requests itself: a URL that no route matches, such as an order id that is not
a UUID (404), a request it finds suspicious, such as a form with too many fields (400), and an
exception no view handled (500). Under `/api/` and `/internal/` a client then gets
`{"detail": ...}` like every other error of those APIs, the content type their schema documents;
the admin keeps Django's pages. Every service's URLconf names these as its handlers.
"""

from django.http import JsonResponse
from django.views import defaults

API_PREFIXES = ("/api/", "/internal/")


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIXES)


def bad_request(request, exception):
    if _is_api(request):
        reason = type(exception).__name__ if exception else "malformed"
        return JsonResponse(
            {"detail": f"the request was refused ({reason}): check its URL, headers and body"}, status=400
        )
    return defaults.bad_request(request, exception)


def not_found(request, exception):
    if _is_api(request):
        return JsonResponse(
            {"detail": f"nothing here: {request.path} (this service's URLs are listed at /api/docs/)"},
            status=404,
        )
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"detail": "internal error: it is logged; try again later"}, status=500)
    return defaults.server_error(request)
