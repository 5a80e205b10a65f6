"""Field permissions. `allow(...)` declares who may call a root field.

A member token may act only on its own member: when the field names a member
(`externalId`, `memberExternalId` or `input.memberExternalId`) it must be the token's own.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from domain.auth.scopes import INSIGHTS, MODERATE, SUPPORT
from schema.errors import forbidden, unauthenticated

MESSAGES = "events:messages"


def target_member(kwargs: dict[str, Any]) -> str | None:
    for name in ("external_id", "member_external_id"):
        if kwargs.get(name):
            return kwargs[name]
    payload = kwargs.get("input")
    return getattr(payload, "member_external_id", None) if payload is not None else None


def allow(*roles: str, member_self: bool = False) -> type[BasePermission]:
    class Allowed(BasePermission):
        message = "You are not allowed to do this"

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            viewer = info.context.viewer
            if viewer.role in roles:
                return True
            if member_self and viewer.role == "member":
                target = target_member(kwargs)
                if target is None or target == viewer.member_external_id:
                    return True
                raise forbidden("A member can only act on their own data")
            if viewer.role == "anonymous":
                raise unauthenticated()
            raise forbidden()

    Allowed.__name__ = "Allow_" + "_".join(roles) + ("_self" if member_self else "")
    return Allowed


IsAdmin = allow("admin")
AdminOrStorefront = allow("admin", "storefront")
AdminOrSelf = allow("admin", member_self=True)
AdminStorefrontOrSelf = allow("admin", "storefront", member_self=True)
IsMember = allow(member_self=True)
StorefrontOrSelf = allow("storefront", member_self=True)
AdminOrPartner = allow("admin", "partner")


class InsightsReader(BasePermission):
    """An admin, or a storefront/partner key holding the insights:read scope (a BI tool's key)."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if viewer.role == "admin" or (viewer.role in ("storefront", "partner", "staff") and viewer.holds(INSIGHTS)):
            return True
        raise unauthenticated() if viewer.role == "anonymous" else forbidden()


class Moderator(BasePermission):
    """Review moderation and replies: an admin, or a key or console staff role holding
    reviews:moderate (a console moderator; never a member)."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if moderates(viewer):
            return True
        raise unauthenticated() if viewer.role == "anonymous" else forbidden()


def moderates(viewer: Any) -> bool:
    """May see what waits for moderation (Moderator's rule, for fields that answer null instead)."""
    return viewer.role == "admin" or (viewer.role in ("storefront", "partner", "staff") and viewer.holds(MODERATE))


class SupportDesk(BasePermission):
    """Member look-up and points adjustments: an admin, or a key or console staff role holding
    members:support (the console's support role; a helpdesk tool's key). Personal fields still
    follow members:pii."""

    member_self = False

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if viewer.role == "admin" or (viewer.role in ("storefront", "partner", "staff") and viewer.holds(SUPPORT)):
            return True
        if self.member_self:
            return AdminOrSelf().has_permission(source, info, **kwargs)
        raise unauthenticated() if viewer.role == "anonymous" else forbidden()


class SupportDeskOrSelf(SupportDesk):
    """`member(externalId:)`: the support desk, or the member themself."""

    member_self = True


class StaffAuditReader(BasePermission):
    """The staff audit log: a console owner, or an admin API key (not a console admin)."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if viewer.role == "admin" and viewer.staff_role in (None, "owner"):
            return True
        raise unauthenticated() if viewer.role == "anonymous" else forbidden()


class AdminStorefrontSelfOrRequestToken(BasePermission):
    """submitReview: a review request's signed token is the credential (the member it was
    sent to writes without a login); without one, admin, storefront or the member themself."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        payload = kwargs.get("input")
        if payload is not None and getattr(payload, "request_token", None) is not None:
            return True
        return AdminStorefrontOrSelf().has_permission(source, info, **kwargs)


class PublicOrSelf(BasePermission):
    """Anyone, unless a member is named: then admin, storefront or that member only."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        target = target_member(kwargs)
        viewer = info.context.viewer
        if target is None or viewer.role in ("admin", "storefront"):
            return True
        if viewer.role == "member" and viewer.member_external_id == target:
            return True
        raise unauthenticated() if viewer.role == "anonymous" else forbidden()


class MemberOrSurveyToken(BasePermission):
    """submitSurveyResponse: a satisfaction survey's signed token is the credential (the member
    it was sent to answers without a login); without one, the signed-in member themself."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        payload = kwargs.get("input")
        if payload is not None and getattr(payload, "token", None) is not None:
            return True
        return IsMember().has_permission(source, info, **kwargs)


class MessageProvider(BasePermission):
    """reportMessageStatus: an admin, or the key of the provider that receives message.due (a
    storefront or partner key holding events:messages)."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if viewer.role == "admin" or (viewer.role in ("storefront", "partner") and viewer.holds(MESSAGES)):
            return True
        raise unauthenticated() if viewer.role == "anonymous" else forbidden()
