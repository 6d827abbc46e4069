"""Enumerations of the referrals app: members, referrals and their closed loop, authorizations,
service deliveries, outreach and bulk imports."""

from __future__ import annotations

from django.db import models


class Sex(models.TextChoices):
    FEMALE = "F", "Female"
    MALE = "M", "Male"
    UNKNOWN = "U", "Unknown / not given"


class PlaceOfService(models.TextChoices):
    """CMS place-of-service codes CBOs use."""

    HOMELESS_SHELTER = "04", "04 · Homeless shelter"
    HOME = "12", "12 · Home"
    ASSISTED_LIVING = "13", "13 · Assisted living facility"
    GROUP_HOME = "14", "14 · Group home"
    TEMPORARY_LODGING = "16", "16 · Temporary lodging"
    OUTREACH_SITE = "27", "27 · Outreach site / street"
    OTHER = "99", "99 · Other place of service"
    TELEHEALTH = "02", "02 · Telehealth (not in the member's home)"
    TELEHEALTH_HOME = "10", "10 · Telehealth in the member's home"


class Priority(models.TextChoices):
    ROUTINE = "routine", "Routine"
    URGENT = "urgent", "Urgent"


class PopulationOfFocus(models.TextChoices):
    """ECM populations of focus (DHCS)."""

    HOMELESS = "homeless", "Experiencing homelessness"
    HIGH_UTILIZER = "high_utilizer", "At risk for avoidable hospital or ED utilization"
    SMI_SUD = "smi_sud", "Serious mental health and/or substance use disorder needs"
    JUSTICE_INVOLVED = "justice_involved", "Transitioning from incarceration"
    LTC_RISK = "ltc_risk", "At risk for institutionalization, eligible for long-term care"
    NURSING_FACILITY = "nursing_facility", "Nursing facility residents transitioning to the community"
    CHILDREN_YOUTH = "children_youth", "Children and youth"
    BIRTH_EQUITY = "birth_equity", "Pregnant and postpartum (birth equity)"


class ReferralSource(models.TextChoices):
    PLAN = "plan", "Plan referral"
    SELF = "self", "Self-referral (recorded by the CBO)"
    COMMUNITY = "community", "Community referral (recorded by the CBO)"
    HANDOFF = "handoff", "Post-release hand-off"


class ReferralStatus(models.TextChoices):
    PENDING_REVIEW = "pending_review", "Pending plan review"
    RECEIVED = "received", "Received"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (
    ReferralStatus.PENDING_REVIEW,
    ReferralStatus.RECEIVED,
    ReferralStatus.ACCEPTED,
    ReferralStatus.IN_PROGRESS,
)
AWAITING_RESPONSE = (ReferralStatus.RECEIVED,)
LOOP_CLOSED = (ReferralStatus.DECLINED, ReferralStatus.COMPLETED, ReferralStatus.CLOSED)


class LoopClosureReason(models.TextChoices):
    """Reason for Referral Loop Closure (DHCS return transmission file)."""

    SERVICES_RECEIVED = "services_received", "Services received"
    MEMBER_DECLINED = "member_declined", "Member declined"
    UNABLE_TO_REACH = "unable_to_reach", "Unable to reach member"
    NOT_ELIGIBLE = "not_eligible", "Member not eligible"
    MOVED = "moved", "Member moved out of the service area"
    DECEASED = "deceased", "Member deceased"
    OTHER = "other", "Other"


class ContactPreference(models.TextChoices):
    PHONE = "phone", "Phone call"
    TEXT = "text", "Text message"
    EMAIL = "email", "Email"
    MAIL = "mail", "Mail"
    IN_PERSON = "in_person", "In person"


class OutreachMethod(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    PHONE = "phone", "Phone"
    TEXT = "text", "Text message"
    MAIL = "mail", "Mail"


class AuthorizationStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    PARTIALLY_APPROVED = "partially_approved", "Partially approved"
    DENIED = "denied", "Denied"
    EXPIRED = "expired", "Expired"
    EXHAUSTED = "exhausted", "Exhausted"


USABLE_AUTHORIZATION = (AuthorizationStatus.APPROVED, AuthorizationStatus.PARTIALLY_APPROVED)


class AuthorizationKind(models.TextChoices):
    PRIOR = "prior", "Prior authorization"
    PRESUMPTIVE = "presumptive", "Presumptive (ECM)"
    RETROACTIVE = "retroactive", "Retroactive"


class DeliveryStatus(models.TextChoices):
    LOGGED = "logged", "Logged"
    VOIDED = "voided", "Voided"


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Waiting to start"
    VALIDATING = "validating", "Checking rows"
    INVALID = "invalid", "Has errors — nothing imported"
    IMPORTING = "importing", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Failed"


class CorrectionStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the plan"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class CoverageSource(models.TextChoices):
    """Where what we know of a member's coverage came from."""

    PLAN = "plan", "Recorded by the plan"
    REFERRAL = "referral", "Assumed from a referral"
    ROSTER = "roster", "Plan roster"
    BENEFIT_834 = "834", "834 enrollment file"
    RESPONSE_271 = "271", "271 eligibility response"


class EligibilityStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    UNKNOWN = "unknown", "Unknown"


class ConsentStatus(models.TextChoices):
    GIVEN = "given", "Given"
    REFUSED = "refused", "Refused"
    REVOKED = "revoked", "Revoked"


class ConsentMethod(models.TextChoices):
    VERBAL = "verbal", "Verbal"
    WRITTEN = "written", "Written (signed form)"
    E_SIGNATURE = "e_signature", "E-signature"
