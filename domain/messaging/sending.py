"""The `send_messages` job: due messages are claimed in chunks (SELECT … FOR UPDATE SKIP
LOCKED on PostgreSQL, domain/scheduler/chunks.py), every rule is evaluated again under the
member's lock, and the message goes out on its channel inside that transaction: the row
lock keeps another worker from sending it too, and a crash before the commit leaves it
SCHEDULED, so delivery is at least once (as for webhooks)."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain import clock
from domain.db import write_transaction
from domain.events.service import record_event
from domain.feedback.models import Improvement, SurveyResponse
from domain.members.models import Member
from domain.messaging import mail, occasions, planning, policies
from domain.messaging.models import Message
from domain.messaging.render import locale_of, render
from domain.scheduler import chunks


async def _decide(message: Message, member: Member, policy: policies.Policy, now: datetime,
                  exempt: set[str]) -> tuple[str, str | None] | None:
    """(status, reason) when the message must not go out now; None when it may."""
    if member.anonymized_at:
        return "CANCELLED", "member erased"
    if not policy.enabled or message.channel not in policy.channels:
        return "CANCELLED", f"{message.type} is disabled on {message.channel}"
    consents = await planning.granted(member.id)
    purpose = policy.purpose_for(message.channel)
    if purpose not in consents:
        return "SUPPRESSED", f"no consent ({purpose})"
    if message.type in policies.REVIEW_TYPES:
        products = await planning.unreviewed(member.id, list(message.products))
        if not products:
            return "SUPPRESSED", "already reviewed"
        if message.type == "REVIEW_REQUEST":
            asked = await planning.recently_asked(member.id, message.channel, now, policy.product_repeat_days,
                                                  exclude_id=message.id)
            products = [p for p in products if p not in asked]
            if not products:
                return "SUPPRESSED", planning.repeat_note(policy)
        message.products = products
    elif message.type == "SATISFACTION_SURVEY" and await SurveyResponse.exists(
            member_id=member.id, order_external_id=message.order_external_id):
        return "SUPPRESSED", "already answered"
    else:  # the occasion may be over: points spent, ordered meanwhile, cart emptied …
        stop = await occasions.still_relevant(message, member, policy, now)
        if stop is not None:
            return stop
    if not policy.cap_exempt:
        # The cap is per member across types and channels: what reached them counts once per
        # occasion (an order's request by e-mail and by webhook is one), this one's excluded.
        rows = await (Message.filter(member_id=member.id, status="SENT", sent_at__gt=now - timedelta(days=policy.cap_days))
                      .exclude(type__in=exempt).values_list("channel", "dedupe_key"))
        sent = len({_occasion(*row) for row in rows} - {_occasion(message.channel, message.dedupe_key)})
        if sent >= policy.cap_messages:
            return "SUPPRESSED", f"capped: {policy.cap_messages} messages in {policy.cap_days} days"
    if "NIGHT_MESSAGES" not in consents:
        zone = planning.zone_of(member)
        moved = planning.after_quiet_hours(now, zone, policy)
        if moved is not None:
            return "SCHEDULED", planning.quiet_note(moved, zone)
    if message.channel == "EMAIL" and not member.email:
        return "SUPPRESSED", "no e-mail address"
    return None


def _occasion(channel: str, dedupe_key: str) -> str:
    """What one message is about, whatever its channel: its dedupe key without the channel
    suffix the planners end their keys with; a key without one (a reminder's names the
    request of its own channel) stands for itself, so it never hides another message."""
    suffix = f":{channel}"
    return dedupe_key[:-len(suffix)] if dedupe_key.endswith(suffix) else dedupe_key


async def _send(message: Message, member: Member, policy: policies.Policy, now: datetime, mailer: mail.Mailer) -> str:
    improvement = await Improvement.get_or_none(id=message.improvement_id) if message.improvement_id else None
    rendered = await render(policy, member, message.order_external_id, list(message.products), now, improvement,
                            details=message.details, channel=message.channel)
    if message.channel == "EMAIL":
        return await mailer.deliver(mail.build(rendered, member.email, message.id, now))
    # WEBHOOK: the brand's SMS/알림톡/push provider sends it; only endpoints whose owner holds
    # members:pii receive message.due (domain/auth/scopes.py).
    await record_event("message.due", {
        "messageId": message.id, "type": message.type, "channel": message.channel,
        "memberExternalId": member.external_id, "email": member.email, "name": member.name,
        "locale": locale_of(member), "orderExternalId": message.order_external_id,
        "products": list(message.products), "details": message.details, "subject": rendered.subject, "text": rendered.text,
        "html": rendered.html, "unsubscribeUrl": rendered.unsubscribe_url,
    }, member.id)
    return "handed to the webhook outbox (message.due)"


async def _handle(message: Message, member: Member, now: datetime, exempt: set[str], mailer: mail.Mailer) -> bool:
    policy = await policies.policy(message.type)
    decision = await _decide(message, member, policy, now, exempt)
    fields = ["status", "reason", "updated_at"]
    message.updated_at = now
    if decision is not None:
        message.status, message.reason = decision
        if decision[0] == "SCHEDULED":  # quiet hours: due again at 08:00 local
            message.scheduled_for = planning.after_quiet_hours(now, planning.zone_of(member), policy)
            fields.append("scheduled_for")
        await message.save(update_fields=fields)
        return False
    message.attempts += 1
    try:
        where = await _send(message, member, policy, now, mailer)
    except mail.MailError as exc:
        message.last_error = str(exc)[:500]
        if message.attempts >= policies.SEND_ATTEMPTS:
            message.status, message.reason = "FAILED", f"not delivered after {message.attempts} attempts"
        else:
            message.scheduled_for = now + timedelta(minutes=policies.RETRY_MINUTES * message.attempts)
            fields.append("scheduled_for")
        await message.save(update_fields=[*fields, "attempts", "last_error", "products", "details"])
        return False
    message.status, message.sent_at = "SENT", now
    # A timing note (quiet hours, preferred contact hour) stays the reason: it says why then.
    message.reason = message.reason if message.reason and message.reason.startswith(
        ("quiet hours", planning.PREFERRED_NOTE)) else where
    await message.save(update_fields=[*fields, "sent_at", "attempts", "products", "details"])
    if message.type == "REVIEW_REQUEST":
        await planning.plan_reminder(message, member, now)
    return True


async def send_due(now: datetime) -> int:
    """Messages due by now; returns how many were sent."""
    due = Message.filter(status="SCHEDULED", scheduled_for__lte=now)
    exempt = await policies.cap_exempt_types()

    async def take(after: int) -> chunks.Chunk:
        sent = busy = 0
        async with write_transaction(), mail.Mailer() as mailer:
            rows = await chunks.claim(due, after)
            for message in rows:
                member = await chunks.lock_member_if_free(message.member_id)
                if member is None:
                    busy += 1
                    continue
                sent += await _handle(message, member, clock.now(), exempt, mailer)
        return chunks.Chunk(len(rows), sent, rows[-1].id if rows else None, busy)

    return await chunks.drain(take)
