"""The handler every service registers, the same way, for the one command message: RepublishEvents.

Reconciliation sends it to re-drive a stalled saga or to fill a gap it saw in an aggregate's
events. Each named service marks its stored events of the aggregate unpublished, the relay sends
them again in their order, and every consumer's inbox skips those it already applied, so only
the lost steps take effect. A service registers it in its consumer:

    handlers={..., "RepublishEvents": events.republish.on_republish_events}
"""

import logging

from django.conf import settings

from events.outbox import outbox_republish

logger = logging.getLogger(__name__)


def on_republish_events(events):
    for event in events:
        payload = event.payload
        if settings.SERVICE_NAME not in payload.services:
            continue
        count = outbox_republish(aggregate_id=payload.aggregate_id)
        logger.info("republishing %d events of %s for %s", count, payload.aggregate_id, payload.requested_by)
