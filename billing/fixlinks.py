"""Where each scrubber hold is fixed, for the person reading the claim.

The scrubber (``billing.services.scrubber``) says in words what is wrong; it stores no links,
because where a problem is fixed depends on who reads it: the member's plan edits the member's
record, a CBO proposes a correction the plan accepts or rejects; a CBO's staff request an
authorization, its billing coordinator asks them to. ``fix_links`` adds to each problem a
``link`` (url and words) when the reader can open the page where it is fixed, and an ``ask``
sentence naming who to ask when they cannot; ``member_corrections`` gives the status of the
corrections the reader's organizations asked the plan for.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from billing.models import Claim
from cbo_portal import access
from cbo_portal.choices import ADMIN_ROLES
from contracts.models import Contract
from referrals.models import Member, MemberCorrection
from referrals.services import members as member_svc
from referrals.services.common import PLAN_AUTHORIZERS, PROVIDER_WORKERS, can_act_for_provider

MEMBER_CODES = {"member_cin", "member_cin_unusual", "member_name", "member_dob", "member_address"}
PROFILE_CODES = {"provider_npi", "provider_tin", "provider_taxonomy", "provider_address", "provider_zip"}
AUTH_CODES = {
    "auth_missing",
    "auth_not_approved",
    "auth_number",
    "auth_mismatch",
    "auth_service",
    "auth_dates",
    "auth_units",
}
CONTRACT_CODES = {"payer_id", "x12_ids", "not_covered", "no_charge", "timely_filing", "timely_filing_soon"}
DIAGNOSIS_CODES = {"diagnosis_missing", "diagnosis_invalid", "diagnosis_count"}
# service_dates: a plan refusing the dates of service (277CA status 187); no scrubber hold has it.
ENTRY_CODES = {"place_of_service", "units_per_day", "units_per_month", "duplicate", "service_dates"}


@dataclass
class _Reader:
    """What the reader may open, worked out once per claim page."""

    user: object
    active_org: object | None
    claim: Claim
    member: Member | None
    member_plan: object | None  # the plan that owns the member's record (enrolled today)
    editing_plan: object | None  # the plan through which this reader edits the record
    proposer: object | None  # the CBO or hub through which this reader proposes corrections
    contract_visible: bool
    entries: dict[int, int]  # line number → service entry id


def _reader(user, claim: Claim, active_org) -> _Reader:
    member = Member.objects.visible_to(user).filter(pk=claim.member_id).first()
    editing = proposer = owner = None
    if member is not None:
        editing = member_svc.editing_plan(user, member)
        proposer = None if editing else member_svc.proposing_provider(user, member, active_org)
        owner = editing or claim.plan
    return _Reader(
        user=user,
        active_org=active_org,
        claim=claim,
        member=member,
        member_plan=owner,
        editing_plan=editing,
        proposer=proposer,
        contract_visible=Contract.objects.visible_to(user).filter(pk=claim.contract_id).exists(),
        entries=dict(claim.lines.values_list("line_number", "delivery_id")),
    )


def _member(r: _Reader, problem: dict) -> dict:
    if r.member is None:
        return {"ask": f"Ask {r.claim.plan} to correct the member's record."}
    url = reverse("referrals:member", args=[r.member.pk])
    name = r.member.full_name
    if r.editing_plan is not None:
        return {
            "link": {
                "url": url + "?open=correct#corrections",
                "label": f"Correct the member record of {name}",
            }
        }
    if r.proposer is not None:
        return {
            "link": {
                "url": url + "?open=correct#corrections",
                "label": f"Request the correction from {r.member_plan}",
            }
        }
    return {
        "link": {"url": url, "label": f"Open the member record of {name}"},
        "ask": f"The record is {r.member_plan}'s: ask them to correct it.",
    }


def _profile(r: _Reader, problem: dict) -> dict:
    provider = r.claim.billing_provider
    org = r.claim.submitter if problem["code"] == "submitter_contact" else provider
    active = r.active_org
    if active is not None and active.pk == org.pk and access.has_role(r.user, org, ADMIN_ROLES):
        return {"link": {"url": reverse("onboarding"), "label": f"Correct {org}'s profile"}}
    return {"ask": f"Ask {org}'s admin to correct it on the organization profile."}


def _referral_page(r: _Reader, anchor: str, query: str = "") -> str:
    return reverse("referrals:detail", args=[r.claim.referral_id]) + query + anchor


def _authorization(r: _Reader, problem: dict) -> dict:
    claim = r.claim
    worker = can_act_for_provider(r.user, claim.billing_provider, PROVIDER_WORKERS)
    if claim.authorization_id and problem["code"] != "auth_missing":
        out = {
            "link": {
                "url": reverse("referrals:authorization", args=[claim.authorization_id]),
                "label": "Open the authorization",
            }
        }
    elif claim.referral_id:
        label = "Request the authorization from the plan" if worker else "Open the referral's authorizations"
        query = "?open=request_auth" if worker else ""
        out = {"link": {"url": _referral_page(r, "#authorizations", query), "label": label}}
    else:
        out = {}
    if not worker and not access.has_role(r.user, claim.plan_id, PLAN_AUTHORIZERS):
        out["ask"] = f"{claim.billing_provider}'s staff request authorizations; {claim.plan} grants them."
    return out


def _contract(r: _Reader, problem: dict) -> dict:
    if r.contract_visible:
        return {
            "link": {
                "url": reverse("contracts:detail", args=[r.claim.contract_id]),
                "label": f"Open contract {r.claim.contract.number}",
            }
        }
    return {
        "ask": f"The contract is between {r.claim.billing_provider} and {r.claim.plan}: ask "
        f"{r.claim.billing_provider}'s admin or {r.claim.plan}'s contract manager."
    }


def _diagnoses(r: _Reader, problem: dict) -> dict:
    if not r.claim.referral_id:
        return {}
    return {
        "link": {
            "url": _referral_page(r, "#diagnoses", "?open=diagnoses"),
            "label": "Edit the referral's diagnosis codes",
        }
    }


def _entry(r: _Reader, problem: dict) -> dict:
    line = problem.get("line")
    entry = r.entries.get(line) if line else None
    if entry is None and len(r.entries) == 1:
        entry = next(iter(r.entries.values()))
    if entry is None:
        return {}
    return {"link": {"url": reverse("referrals:delivery", args=[entry]), "label": "Open the service entry"}}


def _enrollment(r: _Reader, problem: dict) -> dict:
    out = _member(r, problem)
    if r.editing_plan is None:
        out["ask"] = (
            f"Enrollment comes from {r.claim.plan}'s files: ask them to check the member's eligibility."
        )
    return out


_ROUTES = [
    (MEMBER_CODES, _member),
    (PROFILE_CODES | {"submitter_contact"}, _profile),
    (AUTH_CODES, _authorization),
    (CONTRACT_CODES, _contract),
    (DIAGNOSIS_CODES, _diagnoses),
    (ENTRY_CODES, _entry),
    ({"not_enrolled"}, _enrollment),
]


def fix_links(user, claim: Claim, problems: list[dict], *, active_org=None) -> list[dict]:
    """Each problem with ``link`` ({url, label}) and/or ``ask`` added for this reader."""
    reader = _reader(user, claim, active_org)
    out = []
    for problem in problems:
        extra: dict = {}
        for codes, route in _ROUTES:
            if problem.get("code") in codes:
                extra = route(reader, problem)
                break
        out.append({**problem, **extra})
    return out


def member_corrections(user, claim: Claim) -> list[MemberCorrection]:
    """The corrections of the claim's member that the reader's organizations proposed (or, for
    the plan, every one), newest first: the claim page shows where they stand."""
    corrections = MemberCorrection.objects.visible_to(user).filter(member_id=claim.member_id)
    if not access.is_platform_admin(user) and not access.has_role(
        user, claim.plan_id, member_svc.MEMBER_EDITORS
    ):
        corrections = corrections.filter(organization_id__in=access.member_org_ids(user))
    return list(corrections.select_related("organization", "decided_by")[:5])
