"""The card gateway: a payment provider, spoken to over HTTP with the official `stripe` SDK.

The local stack's provider is the simulator on port 8010 (card_gateway/, docs/card-gateway.md);
Stripe itself is a setting away (PAYMENTS_GATEWAY_URL=https://api.stripe.com and a secret key
in PAYMENTS_GATEWAY_API_KEY). Every call carries an idempotency key that the caller derives
from the order (payments/state.py), so a call repeated after a crash, a timeout or a lost
answer is performed once. The SDK's own retries are off: a call whose outcome is unknown is
retried by the payment's next attempt (payments/services.py), with the same key.
"""

import functools
from dataclasses import dataclass
from decimal import Decimal

import stripe
import urllib3
from django.conf import settings

# Currencies without a minor unit (Stripe's list): 500 JPY is sent as 500, 5.00 EUR as 500.
ZERO_DECIMAL = {
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW",
    "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
}  # fmt: skip


class GatewayUnavailable(Exception):
    """The outcome is unknown (no answer, a timeout, a 5xx, a 409 while the first call with the
    key is in flight): the gateway may or may not have acted. Retry with the same key."""


class GatewayRefused(Exception):
    """The gateway refused the request itself (a bad key, invalid parameters): retrying will
    not help until a person fixes what is wrong."""


@dataclass(frozen=True)
class ChargeResult:
    approved: bool
    reference: str
    decline_code: str = ""


def minor_units(amount: Decimal, currency: str) -> int:
    exponent = 0 if currency.upper() in ZERO_DECIMAL else 2
    units = amount.scaleb(exponent)
    if units != units.to_integral_value():
        raise GatewayRefused(f"{amount} {currency} is not a whole number of the currency's smallest unit")
    return int(units)


class CardGateway:
    def __init__(self, client: stripe.StripeClient):
        self.client = client

    def charge(
        self, *, idempotency_key: str, order_id: str, amount: Decimal, currency: str, card_token: str
    ) -> ChargeResult:
        """Charge the card in full now: approved, or declined with the gateway's reason."""
        params = {
            "amount": minor_units(amount, currency),
            "currency": currency.lower(),
            "confirm": True,
            "payment_method_types": ["card"],
            "payment_method_data": {"type": "card", "card": {"token": card_token}},
            "metadata": {"order_id": order_id},
        }
        try:
            intent = self.client.v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        except stripe.CardError as exc:
            error = exc.error
            intent = getattr(error, "payment_intent", None) if error else None
            decline = (error.decline_code if error else None) or exc.code or "card_declined"
            return ChargeResult(False, intent.id if intent else "", decline)
        except stripe.StripeError as exc:
            raise _failure(exc) from exc
        return ChargeResult(intent.status == "succeeded", intent.id)

    def refund(self, *, idempotency_key: str, order_id: str, reference: str) -> str:
        """Give the whole charge `reference` back; the refund's reference ("" when the charge had
        already been refunded under another key, say from the provider's dashboard)."""
        try:
            refund = self.client.v1.refunds.create(
                params={"payment_intent": reference, "metadata": {"order_id": order_id}},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.InvalidRequestError as exc:
            if exc.code == "charge_already_refunded":
                return ""
            raise _failure(exc) from exc
        except stripe.StripeError as exc:
            raise _failure(exc) from exc
        return refund.id


def _failure(exc: stripe.StripeError) -> Exception:
    status = exc.http_status
    message = f"card gateway: {type(exc).__name__} {status or ''}: {exc.user_message or exc}".replace(
        "  ", " "
    )
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or status is None or status == 409:
        return GatewayUnavailable(message)
    if status >= 500:
        return GatewayUnavailable(message)
    return GatewayRefused(message)


class PooledHTTPClient(stripe.HTTPClient):
    """The SDK's HTTP transport on one urllib3 pool of keep-alive connections for the process.

    The SDK's default, RequestsClient, keeps a requests Session per thread and, on every call,
    merges the proxy settings of the environment into the request (a walk of os.environ, twice):
    1.0 ms of CPU per charge against the simulator, 0.3 ms for the same request on a urllib3 pool
    (docs/benchmarks.md). Here every call thread shares one pool of `maxsize` connections,
    which the gateway's concurrency bounds (a thread never waits for one), with no retries of its
    own: a failure is the SDK's APIConnectionError, an unknown outcome for the caller.
    """

    name = "urllib3"

    def __init__(self, *, timeout: float, maxsize: int):
        super().__init__()
        self._pool = urllib3.PoolManager(
            num_pools=4,
            maxsize=maxsize,
            block=False,
            retries=False,
            timeout=urllib3.Timeout(total=timeout),
            ca_certs=stripe.ca_bundle_path,  # the certificates the SDK itself trusts
        )

    def request(self, method, url, headers, post_data=None):
        try:
            response = self._pool.request(method, url, headers=headers, body=post_data)
        except urllib3.exceptions.HTTPError as exc:
            raise stripe.APIConnectionError(
                f"no answer from the card gateway: {type(exc).__name__}: {exc}", should_retry=True
            ) from exc
        return response.data, response.status, response.headers

    def request_stream(self, method, url, headers, post_data=None):
        raise NotImplementedError("the card gateway's answers are read whole")

    def close(self):
        self._pool.clear()


@functools.cache
def gateway() -> CardGateway:
    """The process's gateway client (thread-safe: one pool of connections for every thread)."""
    return CardGateway(
        stripe.StripeClient(
            settings.PAYMENTS_GATEWAY_API_KEY,
            base_addresses={"api": settings.PAYMENTS_GATEWAY_URL},
            max_network_retries=0,
            http_client=PooledHTTPClient(
                timeout=settings.PAYMENTS_GATEWAY_TIMEOUT_SECONDS,
                maxsize=settings.PAYMENTS_GATEWAY_CONCURRENCY,
            ),
        )
    )
