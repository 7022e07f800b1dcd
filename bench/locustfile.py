"""The customers of the benchmark, for Locust: each places orders on the customer API at a fixed
pace, whatever the answers' latency, with a realistic mix of outcomes.

Run by bench/load.py, which sets the rate and the files through the environment:
    BENCH_RATE       orders per second offered, in all
    BENCH_DURATION   seconds to run
    BENCH_FIXTURES   the customers' tokens and the products (written by bench/fixtures.py)
    BENCH_SAMPLES    where each request's time, latency and outcome is written (CSV)

The load is open-loop as far as Locust allows: each user places one order every PACE seconds on a
schedule of its own (a random phase, so arrivals are even), and there are RATE x PACE of them, so a
slow answer delays only that user's next order (and only when it takes longer than PACE). The
report compares the achieved rate with the offered one, so a load the system slowed down shows.
"""

import csv
import json
import math
import os
import random
import time

import gevent
from locust import FastHttpUser, LoadTestShape, events, task

PACE = 2.0
RATE = float(os.environ.get("BENCH_RATE", "10"))
DURATION = float(os.environ.get("BENCH_DURATION", "10"))
# The load ends early once this file exists (bench/load.py's load_stop).
STOP_FILE = os.environ.get("BENCH_STOP_FILE", "")

# The mix of orders (weights out of 100): most succeed, some ask for a limited product that sells
# out, some are paid with a card the gateway declines, a few are cancelled by the customer.
MIX = {"ok": 85, "limited": 7, "declined": 5, "cancelled": 3}
APPROVED_CARDS = ["tok_visa", "tok_mastercard"]
DECLINED_CARDS = ["tok_chargeDeclined", "tok_chargeDeclinedInsufficientFunds"]

with open(os.environ["BENCH_FIXTURES"]) as fixtures_file:
    FIXTURES = json.load(fixtures_file)

# Line-buffered: every request is on disk as it finishes, however Locust is stopped.
_samples_file = open(os.environ["BENCH_SAMPLES"], "a", newline="", buffering=1)  # noqa: SIM115 - open for the run
_samples = csv.writer(_samples_file)


@events.request.add_listener
def record(request_type, name, response_time, response_length, response=None, exception=None, **kwargs):
    """One row per request: when it started (epoch s), what, how long (ms), its status, the order."""
    status = getattr(response, "status_code", 0) or 0
    context = kwargs.get("context") or {}
    started = kwargs.get("start_time") or time.time() - response_time / 1000
    _samples.writerow(
        [
            f"{started:.4f}",
            name,
            f"{response_time:.2f}",
            status,
            context.get("kind", ""),
            context.get("order_id", ""),
            str(exception or "")[:200],
        ]
    )


@events.quitting.add_listener
def flush(environment, **kwargs):
    _samples_file.flush()


class Customer(FastHttpUser):
    # Placement must answer well within this; a request that takes longer counts as an error.
    network_timeout = 10.0
    connection_timeout = 10.0

    def on_start(self):
        customer = random.choice(FIXTURES["customers"])
        self.headers = {"Authorization": f"Token {customer}", "Content-Type": "application/json"}
        # Each customer keeps its own schedule: a first order at a random moment within the first PACE
        # seconds, then one every PACE seconds, so orders arrive evenly through every second rather
        # than all together every PACE seconds.
        self.next_order_at = time.time() + random.uniform(0, PACE)
        gevent.sleep(self.next_order_at - time.time())

    def wait_time(self):
        """Until this customer's next order is due (at once when a slow answer made it late)."""
        self.next_order_at += PACE
        return max(0.0, self.next_order_at - time.time())

    @task
    def place_order(self):
        kind = random.choices(list(MIX), weights=list(MIX.values()))[0]
        skus = FIXTURES["limited"] if kind == "limited" else FIXTURES["products"]
        lines = {sku: random.randint(1, 3) for sku in random.sample(skus, random.randint(1, 2))}
        card = random.choice(DECLINED_CARDS if kind == "declined" else APPROVED_CARDS)
        body = {"items": [{"sku": s, "quantity": q} for s, q in lines.items()], "payment_token": card}
        with self.client.post(
            "/api/v1/orders",
            json=body,
            headers=self.headers,
            name="place",
            context={"kind": kind},
            catch_response=True,
        ) as response:
            if response.status_code != 202:
                # A refusal by admission control says when to come back; the report counts those.
                retry_after = response.headers.get("Retry-After")
                after = f" Retry-After={retry_after}" if retry_after else ""
                response.failure(f"{response.status_code}{after}: {response.text[:200]}")
                return
            order_id = response.json()["order_id"]
            response.request_meta["context"]["order_id"] = order_id
        if kind == "cancelled":
            with self.client.post(
                f"/api/v1/orders/{order_id}/cancel",
                headers=self.headers,
                name="cancel",
                context={"kind": kind, "order_id": order_id},
                catch_response=True,
            ) as response:
                # 409: the saga finished first; the customer was too late, which is not an error.
                if response.status_code not in (202, 409):
                    response.failure(f"{response.status_code}: {response.text[:200]}")


class ConstantRate(LoadTestShape):
    """RATE x PACE customers for DURATION seconds, all started at once (each then waits for its own
    moment within the first PACE seconds to place its first order)."""

    def tick(self):
        if self.get_run_time() >= DURATION or (STOP_FILE and os.path.exists(STOP_FILE)):
            return None
        users = max(1, math.ceil(RATE * PACE))
        return users, users
