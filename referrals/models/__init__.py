from referrals.models.authorizations import Authorization, AuthorizationStatusChange
from referrals.models.consents import Consent
from referrals.models.deliveries import ServiceDelivery
from referrals.models.figures import NetworkSnapshot
from referrals.models.imports import ImportRowError, ReferralImport
from referrals.models.members import Enrollment, Member, MemberCorrection, SubmittedMember
from referrals.models.referrals import OutreachAttempt, Referral, ReferralStatusChange
from referrals.models.rosters import RosterImport, RosterRowError

__all__ = [
    "Authorization",
    "AuthorizationStatusChange",
    "Consent",
    "Enrollment",
    "ImportRowError",
    "Member",
    "MemberCorrection",
    "NetworkSnapshot",
    "OutreachAttempt",
    "Referral",
    "ReferralImport",
    "ReferralStatusChange",
    "RosterImport",
    "RosterRowError",
    "ServiceDelivery",
    "SubmittedMember",
]
