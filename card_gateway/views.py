"""The simulator's HTTP API: Stripe's shape for /v1, and the test controls under /_."""

import json
import re
import secrets
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from card_gateway import services
from card_gateway.services import Answer, ApiError

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def _respond(answer: Answer, key: str | None = None) -> JsonResponse:
    response = JsonResponse(answer.body, status=answer.status)
    response["Request-Id"] = f"req_{secrets.token_hex(8)}"
    if key is not None:
        response["Idempotency-Key"] = key
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    if answer.status == 500:
        response["Stripe-Should-Retry"] = "true"
    return response


def stripe_api(view):
    """Authenticate as Stripe does (the secret key as a bearer token) and answer Stripe's errors."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not secrets.compare_digest(presented.encode(), settings.CARD_GATEWAY_API_KEY.encode()):
            return _respond(ApiError(401, "invalid_request_error", "Invalid API Key provided").answer())
        try:
            return view(request, *args, **kwargs)
        except ApiError as exc:
            return _respond(exc.answer())

    return wrapped


def form_params(request: HttpRequest) -> dict:
    """Stripe's form encoding, nested: metadata[order_id]=1 is {"metadata": {"order_id": "1"}}."""
    params: dict = {}
    for name, value in request.POST.items():
        match = _KEY.match(name)
        if match is None:
            raise ApiError(400, "invalid_request_error", f"Invalid parameter name: {name[:100]}")
        path = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
        node = params
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ApiError(400, "invalid_request_error", f"Parameter {name[:100]} conflicts with another")
        if isinstance(node.get(path[-1]), dict):
            raise ApiError(400, "invalid_request_error", f"Parameter {name[:100]} conflicts with another")
        node[path[-1]] = value
    return params


def _run(request: HttpRequest, endpoint: str, perform) -> JsonResponse:
    key = request.headers.get("Idempotency-Key")
    answer = services.request_run(endpoint=endpoint, params=form_params(request), key=key, perform=perform)
    return _respond(answer, key)


@require_POST
@stripe_api
def payment_intents(request):
    return _run(request, "POST /v1/payment_intents", services.charge_create)


@require_GET
@stripe_api
def payment_intent(request, intent_id: str):
    return _respond(services.intent_get(intent_id))


@require_POST
@stripe_api
def refunds(request):
    return _run(request, "POST /v1/refunds", services.refund_create)


@require_http_methods(["GET", "POST", "DELETE"])
def faults(request):
    """The injected faults: GET reads them, POST replaces them (JSON), DELETE turns them off."""
    try:
        if request.method == "POST":
            try:
                values = json.loads(request.body or b"{}")
            except ValueError:
                raise ApiError(400, "invalid_request_error", "The body must be a JSON object") from None
            if not isinstance(values, dict):
                raise ApiError(400, "invalid_request_error", "The body must be a JSON object")
            current = services.faults_set(values)
        elif request.method == "DELETE":
            current = services.faults_reset()
        else:
            current = services.faults_current()
    except ApiError as exc:
        return _respond(exc.answer())
    return JsonResponse(services.faults_as_dict(current))


@require_GET
def ledger(request):
    """Every operation performed for the named orders: ?order_id=1&order_id=2."""
    try:
        data = services.ledger_of(request.GET.getlist("order_id"))
    except ApiError as exc:
        return _respond(exc.answer())
    return JsonResponse({"object": "list", "data": data})
