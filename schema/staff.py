"""The merchant console's staff audit log (domain/staff/), readable by owners."""

from __future__ import annotations

import datetime as dt

import strawberry

from domain.staff.models import StaffAudit as AuditModel


@strawberry.type(description="One thing a staff member did in the console, or a sign-in attempt.")
class StaffAuditEntry:
    at: dt.datetime = strawberry.field(description="When (UTC, ISO 8601).")
    email: str = strawberry.field(description="The staff account's e-mail (as typed, for a failed sign-in).")
    action: str = strawberry.field(
        description="sign_in, sign_in.failed, sign_in.locked, sign_in.throttled, sign_out, staff.created, or the "
                    "console action (review.moderate, review.media.moderate, review.reply).")
    detail: str = strawberry.field(description="What it was about (a review's global ID, a role); may be empty.")
    ip: str = strawberry.field(description="The client address it came from (\"cli\" for server.py create-staff).")

    @classmethod
    def from_model(cls, row: AuditModel) -> StaffAuditEntry:
        return cls(at=row.at, email=row.email, action=row.action, detail=row.detail, ip=row.ip)
