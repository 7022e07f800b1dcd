"""What every service's OpenAPI schema says beyond what drf-spectacular reads from the views."""

import copy

# The body of the errors answered outside the views: DRF's authentication and permissions, the
# middleware (config/middleware.py) and Django's error handlers (config/errors.py).
DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}


def _error(description: str, media_type: str = "application/json", schema: dict = DETAIL) -> dict:
    return {"description": description, "content": {media_type: {"schema": schema}}}


# Any operation: a NUL character in the URL, or a request Django refuses as suspicious (400); a
# request line longer than the web server serves (stack/gunicorn.conf.py), answered by gunicorn;
# the database not answering (503).
ANY_OPERATION = {
    "400": _error("the URL holds a NUL character, or the request is malformed"),
    "414": _error(
        "the request line is longer than the web server serves (4094 bytes): its own HTML page",
        media_type="text/html",
        schema={"type": "string"},
    ),
    "503": _error("the service's database did not answer: retry after the Retry-After header's seconds"),
}
# An operation that needs credentials: DRF checks them before the view runs.
WITH_CREDENTIALS = {
    "401": _error("no credentials, or wrong ones"),
    "403": _error("these credentials may not do this"),
}


def document_errors_outside_views(result, generator, request, public):
    """Add to each operation the errors answered before its view runs, which no view's
    extend_schema lists; a view's own description of the same status stays. A postprocessing
    hook (SPECTACULAR_SETTINGS)."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            security = operation.get("security", [])
            errors = dict(ANY_OPERATION)
            if security and {} not in security:
                errors |= WITH_CREDENTIALS
            for code, response in errors.items():
                operation["responses"].setdefault(code, copy.deepcopy(response))
    return result
