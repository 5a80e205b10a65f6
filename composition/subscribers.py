"""Who listens to which events: every subscriber of the event bus, registered here and
nowhere else, so domain modules never import each other to pass events along.

In the transaction (outbox writers; a failure rolls the change back):
  *  webhooks.fan_out        one delivery row per endpoint that should receive the event
                             (fan_out_many: a bulk of events' deliveries in one INSERT)
After the commit (notifications of durable changes):
  *  realtime.publish_event  GraphQL subscriptions in every API process
(The webhook delivery loop subscribes itself while it runs: domain/webhooks/delivery.py.)
  *  messaging.planning     order.fulfilled plans review requests and satisfaction surveys; a consent withdrawal
                             (member.updated) or an erasure cancels scheduled messages
  *  messaging.occasions    member.tier_changed plans TIER_CHANGED (a wave in bulk:
                             plan_tier_changed_many); order.recorded cancels a
                             scheduled win-back or cart reminder the order makes pointless
Later consumers (insights) register here the same way.
"""

from __future__ import annotations

from domain.events.bus import EventBus, event_bus
from domain.messaging import occasions, planning
from domain.realtime.bus import publish_event
from domain.webhooks.service import fan_out, fan_out_many


def wire(bus: EventBus = event_bus) -> None:
    """Register every subscriber (idempotent). Every process calls it at start: the API
    (server.create_app), `worker`, `seed`, `train-recommender`, and the test harness."""
    bus.subscribe("*", fan_out, batch=fan_out_many)
    bus.subscribe("order.fulfilled", planning.plan_review_request)
    bus.subscribe("order.fulfilled", planning.plan_survey)
    bus.subscribe("member.updated", planning.cancel_withdrawn)
    bus.subscribe("member.anonymized", planning.cancel_erased)
    bus.subscribe("member.tier_changed", occasions.plan_tier_changed, batch=occasions.plan_tier_changed_many)
    bus.subscribe("order.recorded", occasions.cancel_on_order)
    bus.subscribe("*", publish_event, after_commit=True)
