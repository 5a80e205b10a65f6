from __future__ import annotations

from strawberry.types import Info

from domain.pagination import NEWEST_ID, keyset_page
from domain.staff import service
from schema.pagination import Connection, paginate
from schema.staff import StaffAuditEntry


async def staff_audit_log(info: Info, first: int | None = None, after: str | None = None,
                          last: int | None = None, before: str | None = None) -> Connection[StaffAuditEntry]:
    return await paginate("Query.staffAuditLog", first, after, last, before,
                          lambda req: keyset_page(service.audit_log_query(), NEWEST_ID, req),
                          StaffAuditEntry.from_model)
