"""API token authentication that does not read the database on every request.

DRF's TokenAuthentication looks the token and its user up with a query per request; on the
order placement path that was 13 % of the orders web process's CPU (docs/benchmarks.md). This
one remembers, per process, each token it has seen for AUTH_TOKEN_CACHE_SECONDS (cachetools'
TTLCache, at most AUTH_TOKEN_CACHE_SIZE tokens, least recently used out first) and checks it
again after that. The price: a token deleted, or a user deactivated, still opens the API for at
most that long in each web process that had seen it. An unknown token is never remembered: it
is looked up (and refused) every time.
"""

import copy
import threading
import time

from cachetools import TTLCache
from django.conf import settings
from rest_framework.authentication import TokenAuthentication

_cache: TTLCache | None = None
_lock = threading.Lock()


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        cache = _token_cache()
        with _lock:
            hit = cache.get(key)
        if hit is None:
            hit = super().authenticate_credentials(key)  # AuthenticationFailed when unknown or inactive
            with _lock:
                cache[key] = hit
        user, token = hit
        # Each request its own copy: nothing a view sets on request.user leaks into another.
        return copy.copy(user), token


def _token_cache() -> TTLCache:
    global _cache
    if _cache is None:
        with _lock:
            if _cache is None:
                _cache = TTLCache(
                    maxsize=settings.AUTH_TOKEN_CACHE_SIZE,
                    ttl=settings.AUTH_TOKEN_CACHE_SECONDS,
                    timer=lambda: time.monotonic(),  # looked up at each call, so tests can move the clock
                )
    return _cache


def token_cache_clear() -> None:
    """Forget every token (tests; a settings change)."""
    global _cache
    with _lock:
        _cache = None
