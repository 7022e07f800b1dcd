"""Rate limits on the doors anyone may knock at (register, token), counted per client address
in the shared cache (Redis), so that a limit holds across a service's web processes."""

import logging

from redis.exceptions import RedisError
from rest_framework import throttling

logger = logging.getLogger(__name__)


def client_address(request) -> str:
    """The client's address as the rate limits read it (REST_FRAMEWORK's NUM_PROXIES): the login
    lockout's (django-axes' AXES_CLIENT_IP_CALLABLE) too, so that both count the same caller."""
    return throttling.BaseThrottle().get_ident(request)


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's scoped throttle (the view's `throttle_scope`, its rate in DEFAULT_THROTTLE_RATES;
    over it, 429 with Retry-After). When the cache does not answer, the request goes through,
    with a log line, rather than a 500: the limit is a guard, not a dependency."""

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            logger.warning("throttle %s not checked: the cache did not answer: %s", self.scope, exc)
            return True
