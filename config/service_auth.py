"""Service-to-service authentication for the internal APIs (`/internal/v1/`).

A calling service sends `Authorization: Service <name>:<secret>`; the secrets every service
accepts are INTERNAL_API_KEYS (`name=secret` pairs). A customer's or staff member's token never
opens an internal API, and a service's key opens nothing else: the internal views use only this
authentication and the IsService permission.
"""

import hmac
from dataclasses import dataclass

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

KEYWORD = "Service"


@dataclass(frozen=True)
class ServicePrincipal:
    """The `request.user` of a request made by another service."""

    name: str
    is_authenticated: bool = True
    is_staff: bool = False

    def __str__(self):
        return f"service {self.name}"


class ServiceKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != KEYWORD:
            return None
        if len(header) != 2 or ":" not in header[1]:
            raise exceptions.AuthenticationFailed(f"send `Authorization: {KEYWORD} <name>:<secret>`")
        name, secret = header[1].split(":", 1)
        expected = settings.INTERNAL_API_KEYS.get(name)
        # An empty secret configured is no secret: it would let anyone in who sends none.
        if not expected or not hmac.compare_digest(expected.encode(), secret.encode()):
            raise exceptions.AuthenticationFailed("unknown service or wrong secret")
        return ServicePrincipal(name), None

    def authenticate_header(self, request):
        return KEYWORD


class IsService(permissions.BasePermission):
    message = "only other services of this system may call the internal API"

    def has_permission(self, request, view):
        return isinstance(request.user, ServicePrincipal)


def service_authorization(name: str) -> str:
    """The Authorization header value this service sends as `name`."""
    return f"{KEYWORD} {name}:{settings.INTERNAL_API_KEYS[name]}"


class ServiceKeyScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes ServiceKeyAuthentication."""

    target_class = ServiceKeyAuthentication
    name = "serviceKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": f"`{KEYWORD} <service name>:<secret>`, for calls between services",
        }
