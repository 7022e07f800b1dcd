"""Event handlers of the payments service: decode, call a service, nothing else."""

from events import republish
from events.consumers import Consumer
from events.topics import event_topic
from payments import dispatch, services


def on_order_news(events):
    # In the consumer's loop, the intents' calls are in flight while it reads on; anywhere else
    # (a dead letter retried from the admin, a replay), they are made before this returns.
    dispatcher = dispatch.current()
    services.payments_apply([_note(e) for e in events], dispatch=dispatcher.submit if dispatcher else None)


def _note(event) -> services.Note:
    payload, event_type, caused_by = event.payload, event.envelope.event_type, event.envelope
    if event_type == "OrderCreated":
        terms = services.Terms(payload.total_amount, payload.currency, payload.payment_token)
        return services.Note(payload.order_id, terms=terms, caused_by=caused_by)
    if event_type == "InventoryReserved":
        return services.Note(payload.order_id, stock_held=True, caused_by=caused_by)
    if event_type in ("OrderCancelled", "OrderFailed"):
        return services.Note(payload.order_id, ended=payload.reason or event_type, caused_by=caused_by)
    # RefundPayment, reconciliation's command
    return services.Note(
        payload.order_id, refund=f"refunded by reconciliation: {payload.reason}", caused_by=caused_by
    )


CONSUMER = Consumer(
    name="payments",
    topics=(event_topic("orders"), event_topic("inventory"), event_topic("reconciliation")),
    handlers={
        "OrderCreated": on_order_news,
        "OrderCancelled": on_order_news,
        "OrderFailed": on_order_news,
        "InventoryReserved": on_order_news,
        # Reconciliation's commands.
        "RefundPayment": on_order_news,
        "RepublishEvents": republish.on_republish_events,
    },
    handoff=dispatch.dispatcher,
)
