"""Demo billing data for ``make run``: claims built from logged services, ready and held, and one
submitted batch. Idempotent: members are found by CIN, and nothing is built twice (billed
services are not billable again). Small and composable: the remittance demo can run after it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from billing.choices import BatchStatus, DeliveryMethod
from billing.models import Batch, PlanChannel
from cbo_portal.choices import Role
from cbo_portal.models import County, Membership, Organization
from contracts.models import Contract, ServiceCatalogEntry

# (CIN, first, last, street) — the last one has no street address, so its claim is held.
MEMBERS = [
    ("91234001A", "Rosa", "Alvarez", "1418 E 4th St"),
    ("91234002C", "James", "Okafor", "220 S Boyle Ave"),
    ("91234003D", "Mei", "Tran", "3301 E Cesar Chavez Ave"),
    ("91234004E", "Darnell", "Brooks", ""),
]


def _user(org: Organization, role: str):
    membership = Membership.objects.filter(organization=org, role=role).select_related("user").first()
    return membership.user if membership else None


def prepare(world) -> None:
    """Billing prerequisites the earlier seeds leave open: ZIP+4 on the billing organizations and
    the plan's payer id on the contracts, a download channel per plan."""
    for key in ("cbo", "hub"):
        org = world.orgs.get(key)
        if org is not None and "-" not in (org.service_zip or "") and len(org.service_zip or "") == 5:
            Organization.objects.filter(pk=org.pk).update(service_zip=f"{org.service_zip}-2519")
    for contract in Contract.objects.filter(payer_id="").select_related("plan"):
        Contract.objects.filter(pk=contract.pk).update(payer_id=contract.plan.payer_id)
    for key in ("plan", "plan2"):
        if key in world.orgs:
            PlanChannel.objects.get_or_create(
                plan=world.orgs[key], defaults={"method": DeliveryMethod.DOWNLOAD}
            )


def _at(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _referral(
    member, plan: Organization, cbo: Organization, ecm: ServiceCatalogEntry, n: int, *, first: date
):
    """The member's ECM referral, in progress, received ten days before the first service (and
    accepted the next day), with its closed-loop history. A referral an older seed made later than
    that is moved back to then."""
    from referrals.models import Referral, ReferralStatusChange

    received, accepted, started = (
        _at(first - timedelta(days=10), 10),
        _at(first - timedelta(days=9), 11),
        _at(first, 17),
    )
    story = dict(
        created_at=received, status_changed_at=started, responded_at=accepted, first_service_date=first
    )
    referral, _ = Referral.objects.get_or_create(
        member=member,
        plan=plan,
        cbo=cbo,
        service=ecm,
        defaults=dict(
            diagnosis_codes=["Z59.01", "Z59.41"] if n % 2 else ["Z59.02"],
            status="in_progress",
            created_by=_user(plan, Role.PLAN_CARE_COORDINATOR),
            **story,
        ),
    )
    Referral.objects.filter(pk=referral.pk, created_at__gt=received).update(**story)
    if not ReferralStatusChange.objects.filter(referral=referral).exists():
        coordinator, admin = _user(plan, Role.PLAN_CARE_COORDINATOR), _user(cbo, Role.CBO_ADMIN)
        ReferralStatusChange.objects.bulk_create(
            [
                ReferralStatusChange(
                    referral=referral,
                    from_status="",
                    to_status="received",
                    actor=coordinator,
                    reason="Referred by the plan",
                    created_at=received,
                ),
                ReferralStatusChange(
                    referral=referral,
                    from_status="received",
                    to_status="accepted",
                    actor=admin,
                    created_at=accepted,
                ),
                ReferralStatusChange(
                    referral=referral,
                    from_status="accepted",
                    to_status="in_progress",
                    actor=_user(cbo, Role.CBO_STAFF) or admin,
                    reason="First service logged",
                    created_at=started,
                ),
            ]
        )
    return referral


def log_services(world) -> int:
    """A few ECM services by the demo CBO, unless they are already logged."""
    from referrals.models import Enrollment, Member, ServiceDelivery

    cbo, plan = world.orgs["cbo"], world.orgs["plan"]
    staff = _user(cbo, Role.CBO_STAFF) or _user(cbo, Role.CBO_ADMIN)
    county = County.objects.filter(name="Los Angeles").first()
    ecm = ServiceCatalogEntry.lookup("G9008", ["U1"])
    outreach = ServiceCatalogEntry.lookup("G9012", ["U2"])
    today = timezone.localdate()
    first_day = date(today.year, 1, 1)
    made = 0
    for n, (cin, first, last, street) in enumerate(MEMBERS):
        member, _ = Member.objects.get_or_create(
            cin=cin,
            defaults=dict(
                first_name=first,
                last_name=last,
                dob=date(1958 + 7 * n, 1 + n, 10 + n),
                sex="FM"[n % 2],
                street=street,
                city="Los Angeles",
                zip="90033",
                county=county,
                preferred_language="English",
            ),
        )
        Enrollment.objects.get_or_create(member=member, plan=plan, start_date=date(today.year - 1, 1, 1))
        planned = [
            (service, day)
            for months_back, service in ((2, ecm), (1, ecm), (1, outreach))
            if (
                day := max(
                    first_day,
                    (today.replace(day=1) - timedelta(days=31 * (months_back - 1) + 1)).replace(day=8 + n),
                )
            )
            <= today
        ]
        referral = _referral(member, plan, cbo, ecm, n, first=min((d for _s, d in planned), default=today))
        for service, day in planned:
            if ServiceDelivery.objects.filter(member=member, service=service, service_date=day).exists():
                continue
            ServiceDelivery.objects.create(
                member=member,
                cbo=cbo,
                plan=plan,
                referral=referral,
                service=service,
                service_date=day,
                units=Decimal(1),
                place_of_service="12" if service == ecm else "02",
                staff=staff,
                created_by=staff,
            )
            made += 1
    return made


def seed(world) -> None:
    """Ready and held claims plus one submitted batch for the demo CBO."""
    from billing.services.batches import create_batch, submit_batch, write_batch_file
    from billing.services.claims import build_claims, submitter_for
    from referrals.models import ServiceDelivery

    if "cbo" not in world.orgs or "plan" not in world.orgs:
        return
    prepare(world)
    log_services(world)
    cbo, plan = world.orgs["cbo"], world.orgs["plan"]
    cbo.refresh_from_db()
    submitter = submitter_for(cbo)
    biller = _user(submitter, Role.CBO_BILLING) or _user(submitter, Role.CBO_ADMIN)
    last_month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    older = ServiceDelivery.objects.billable().filter(cbo=cbo, service_date__lt=last_month)
    if not Batch.objects.filter(plan=plan).exists() and older.exists():
        # Services before last month went out already: one submitted batch.
        build_claims(acting_user=biller, cbo=cbo, plan=plan, delivery_ids=older.values_list("pk", flat=True))
        batch = write_batch_file(
            create_batch(submitter=submitter, plan=plan, acting_user=biller, dispatch=False)
        )
        if batch.status == BatchStatus.READY:
            submit_batch(batch, acting_user=biller)
    build_claims(acting_user=biller, cbo=cbo)
