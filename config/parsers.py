"""The one parser of every service's APIs: JSON, read within bounds, with no NUL in it.

DRF's JSONParser hands the body to Python's json module as it is, so a body nested deep enough
(`[[[...`, a few kilobytes will do) raises RecursionError in the parser, which DRF does not catch:
a 500 from every endpoint, the unauthenticated ones first. And a NUL (`\\u0000`) in any string
reaches PostgreSQL, whose text cannot hold one: a 500 again, from the first INSERT. Here both are
a 400 whose message says what to change. The size bound is MAX_REQUEST_BODY_BYTES, the one the
middleware answers 413 for when the body says its length (config/middleware.py).
"""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from events import bounded_json

# Far deeper than any request of these APIs (a placement's lines are three levels down).
MAX_DEPTH = 32

TOO_DEEP = f"the JSON body is nested more than {MAX_DEPTH} levels deep; no request of this API is"
HOLDS_NUL = "the JSON body holds a NUL character (\\u0000), which no field accepts: remove it"


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read(settings.MAX_REQUEST_BODY_BYTES + 1) if stream is not None else b""
        try:
            data = bounded_json.loads(
                raw,
                max_bytes=settings.MAX_REQUEST_BODY_BYTES,
                max_depth=MAX_DEPTH,
                parse_constant=json.strict_constant if self.strict else None,
            )
        except bounded_json.TooDeep:
            raise ParseError(TOO_DEEP) from None
        except bounded_json.TooLarge:
            raise ParseError(
                f"the JSON body is larger than {settings.MAX_REQUEST_BODY_BYTES} bytes"
            ) from None
        except ValueError as exc:  # not JSON, or not UTF-8
            raise ParseError(f"JSON parse error - {exc}") from None
        if b"\\u0000" in raw and bounded_json.holds_nul(data):
            raise ParseError(HOLDS_NUL)
        return data
