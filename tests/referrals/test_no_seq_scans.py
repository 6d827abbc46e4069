"""Guard (PostgreSQL only): with enough rows for the planner to care, the queries behind every
list page and endpoint read referrals, members, authorizations and service deliveries through an
index, for a plan's, a CBO's and a hub's users (issue #15).

50,000 referrals over 40 CBOs and two plans (25,000 members, an authorization for about a third,
a logged service for about a sixth) are written set-based with ``generate_series`` and analysed;
each URL is requested once, and every SELECT it ran is EXPLAINed (no ANALYZE). A Seq Scan of a
guarded table fails the test with the URL, the persona and the query.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contracts.models import ServiceCatalogEntry
from tests.factories import OrganizationFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgresql,  # its planner
]

GUARDED = {"referrals_referral", "referrals_member", "referrals_authorization", "referrals_servicedelivery"}
REFERRALS, CBOS = 50_000, 40
CIN = "70001234A"
URLS = [
    "/referrals/",
    "/referrals/?status=received",
    "/referrals/?status=overdue",
    "/referrals/?status=open",
    f"/referrals/?q={CIN}",
    "/referrals/?q=Reyes17",
    "/worklist/",
    "/worklist/?period=all",
    "/members/",
    "/members/?q=Reyes170",
    f"/members/?q={CIN}",
    "/members/?q=Ana42",
    "/authorizations/",
    "/authorizations/?status=requested",
    "/api/v1/referrals/",
    "/api/v1/referrals/?status=received",
    "/api/v1/referrals/?priority=urgent",
    "/api/v1/referrals/?overdue=true",
    f"/api/v1/referrals/?search={CIN}",
    "/api/v1/referrals/?page=5",
    "/api/v1/authorizations/",
    "/api/v1/authorizations/?status=requested",
    "/api/v1/service-deliveries/",
]


# Known and not yet fixed (issue #15, what is left): a ratchet, so nothing new slips in while these
# are worked off. With two plans a plan's filter matches half the table, where a Seq Scan under a
# LIMIT is the cheap plan and the planner's choice turns on its row sample (the plan's service
# deliveries, half of a few thousand rows, went either way from one run to the next); the hub's
# several CBOs (cbo_id IN (…)) are not read in created_at order by any index, so the planner
# joins members by hash; the member list for a CBO or hub without a selective search walks
# members.
KNOWN = {
    ("plan", "/referrals/"),
    ("plan", "/referrals/?status=open"),
    ("plan", "/worklist/?period=all"),
    ("plan", "/members/"),
    ("plan", "/members/?q=Ana42"),
    ("plan", "/authorizations/"),
    ("plan", "/api/v1/referrals/"),
    ("plan", "/api/v1/referrals/?priority=urgent"),
    ("plan", "/api/v1/referrals/?page=5"),
    ("plan", "/api/v1/authorizations/"),
    ("plan", "/api/v1/service-deliveries/"),
    ("cbo", "/members/"),
    ("cbo", "/members/?q=Reyes170"),
    ("cbo", "/members/?q=Ana42"),
    ("hub", "/referrals/"),
    ("hub", "/referrals/?status=received"),
    ("hub", "/referrals/?status=overdue"),
    ("hub", "/referrals/?status=open"),
    ("hub", "/members/"),
    ("hub", "/members/?q=Reyes170"),
    ("hub", "/members/?q=Ana42"),
    ("hub", "/authorizations/"),
    ("hub", "/api/v1/referrals/"),
    ("hub", "/api/v1/referrals/?status=received"),
    ("hub", "/api/v1/referrals/?priority=urgent"),
    ("hub", "/api/v1/referrals/?overdue=true"),
    ("hub", "/api/v1/referrals/?page=5"),
    ("hub", "/api/v1/authorizations/"),
    ("hub", "/api/v1/service-deliveries/"),
}


def _seed(world) -> None:
    """The rows, set-based: a few statements whatever the size."""
    extra = [OrganizationFactory(legal_name=f"Guard CBO {n:02d}").pk for n in range(CBOS - 2)]
    cbos = [world.cbo.pk, world.other_cbo.pk, *extra]
    plans = [world.plan.pk, world.other_plan.pk]
    service = ServiceCatalogEntry.objects.order_by("pk").values_list("pk", flat=True).first()
    user = world.care_coordinator.pk
    with connection.cursor() as cur:
        cur.execute(
            """INSERT INTO referrals_member (cin, first_name, last_name, dob, sex, phone, street, city, state, zip,
                   preferred_language, created_at, updated_at)
               SELECT '7' || lpad(i::text, 7, '0') || 'A', 'Ana' || (i %% 97), 'Reyes' || (i %% 991),
                      DATE '1950-01-01' + (i %% 18000), 'F', '', '', '', 'CA', '', '', now(), now()
               FROM generate_series(0, %s) i""",
            [REFERRALS // 2 - 1],
        )
        cur.execute(
            """INSERT INTO referrals_referral (plan_id, cbo_id, member_id, service_id, source, plan_reference, reason,
                   diagnosis_codes, priority, population, facility_name, notes, contact_preference, contact_notes,
                   status, status_changed_at, respond_by, decline_reason, closure_reason, closure_note, created_at,
                   created_by_id)
               SELECT (%(plans)s::bigint[])[1 + i %% 2], (%(cbos)s::bigint[])[1 + (i / 2) %% %(n)s], m.id, %(service)s,
                      'plan', 'G-' || i, '', '[]', CASE WHEN i %% 10 = 0 THEN 'urgent' ELSE 'routine' END, '', '', '',
                      '', '', (ARRAY['received','accepted','in_progress','completed','closed','declined',
                      'accepted','in_progress','completed','closed'])[1 + (i * 7) %% 10],
                      now() - i * interval '20 minutes', now() - i * interval '20 minutes' + interval '3 days',
                      '', '', '', now() - i * interval '20 minutes', %(user)s
               FROM generate_series(0, %(last)s) i
               JOIN referrals_member m ON m.cin = '7' || lpad((i / 2)::text, 7, '0') || 'A'""",
            {
                "plans": plans,
                "cbos": cbos,
                "n": len(cbos),
                "service": service,
                "user": user,
                "last": REFERRALS - 1,
            },
        )
        cur.execute(
            """INSERT INTO referrals_authorization (referral_id, plan_id, cbo_id, member_id, service_id, number, kind,
                   status, units_requested, units_approved, units_used, start_date, end_date, request_note,
                   decision_note, requested_by_id, created_at)
               SELECT r.id, r.plan_id, r.cbo_id, r.member_id, r.service_id,
                      CASE WHEN r.id %% 11 = 0 THEN '' ELSE 'GA' || r.id END, 'prior',
                      CASE WHEN r.id %% 11 = 0 THEN 'requested' ELSE 'approved' END, 10,
                      CASE WHEN r.id %% 11 = 0 THEN NULL ELSE 10 END, r.id %% 10, r.created_at::date,
                      r.created_at::date + 120, '', '', %s, r.created_at
               FROM referrals_referral r WHERE r.id %% 3 = 0 AND r.status IN ('accepted', 'in_progress', 'completed')""",
            [user],
        )
        cur.execute(
            """INSERT INTO referrals_servicedelivery (member_id, cbo_id, plan_id, referral_id, authorization_id,
                   service_id, service_date, units, minutes, place_of_service, note, status, void_reason, staff_id, created_by_id,
                   created_at, updated_at)
               SELECT a.member_id, a.cbo_id, a.plan_id, a.referral_id, a.id, a.service_id,
                      LEAST(a.start_date + 3, CURRENT_DATE), 1, NULL, '12', '', 'logged', '', %s, %s, now(), now()
               FROM referrals_authorization a WHERE a.status = 'approved' AND a.id %% 2 = 0""",
            [world.cbo_staff.pk, world.cbo_staff.pk],
        )
        cur.execute(
            "ANALYZE referrals_member, referrals_referral, referrals_authorization, referrals_servicedelivery, "
            "referrals_enrollment, cbo_portal_organization"
        )


def _seq_scans(node: dict) -> list[str]:
    found = (
        [node["Relation Name"]]
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in GUARDED
        else []
    )
    for child in node.get("Plans", []):
        found += _seq_scans(child)
    return found


def test_list_pages_and_endpoints_read_through_indexes(world, client):
    _seed(world)
    personas = {"plan": world.care_coordinator, "cbo": world.cbo_staff, "hub": world.hub_billing}
    problems = []
    for label, user in personas.items():
        client.force_login(user)
        for url in URLS:
            with CaptureQueriesContext(connection) as captured:
                status = client.get(url).status_code
            assert status == 200, (label, url, status)
            for query in captured.captured_queries:
                sql = query["sql"]
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                with connection.cursor() as cur:
                    cur.execute("EXPLAIN (FORMAT JSON) " + sql)
                    plan = cur.fetchone()[0]
                plan = plan if isinstance(plan, list) else json.loads(plan)
                if (scans := _seq_scans(plan[0]["Plan"])) and (label, url) not in KNOWN:
                    problems.append(f"{label} {url}: Seq Scan of {', '.join(scans)} in {sql[:300]}")
    assert not problems, "\n".join(problems)
