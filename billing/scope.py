"""Who sees which billing rows: one rule for claims, batches and remittances."""

from __future__ import annotations

from django.db.models import Q

from cbo_portal.choices import Role

# On the provider side, billing is the business of admins and billing coordinators, not of
# every staff member who logs services.
PROVIDER_BILLING_ROLES = (Role.CBO_ADMIN, Role.CBO_BILLING)
PLAN_BILLING_ROLES = (Role.PLAN_ADMIN, Role.PLAN_CONTRACT_MANAGER)


def billing_scope_q(user, *, provider: str, submitter: str | None, plan: str | None) -> Q | None:
    """Rows are visible to the billing provider's (or its hub's) admins and billing coordinators,
    to the submitter's, to the plan's admins and contract managers (``plan=None`` hides rows
    from plans), and to platform admins (``None`` = no filter). ``provider``, ``submitter`` and
    ``plan`` name the lookups from the model to those organizations."""
    from cbo_portal.access import is_platform_admin, org_ids_with_roles

    if not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    if is_platform_admin(user):
        return None
    billers = org_ids_with_roles(user, PROVIDER_BILLING_ROLES)
    scope = Q(**{f"{provider}_id__in": billers}) | Q(**{f"{provider}__hub_id__in": billers})
    if submitter:
        scope |= Q(**{f"{submitter}_id__in": billers})
    if plan:
        scope |= Q(**{f"{plan}_id__in": org_ids_with_roles(user, PLAN_BILLING_ROLES)})
    return scope
