"""The referral list's search (CIN, name, plan reference, CBO name), the worklist's first rows and
counts, and the pages past the first (read keys first, then rows): what a user finds, and that
nobody finds another tenant's referral through them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from referrals import views
from referrals.models import Referral
from tests.referrals.factories import MemberFactory, referral

pytestmark = pytest.mark.django_db


def _numbers(client, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200
    return {r.number for r in response.context["page"].object_list}


def test_the_list_finds_a_referral_by_cin_name_plan_reference_and_cbo_name(cw, client):
    mine = referral(
        cw, member=MemberFactory(cin="91234567A", last_name="Quintanilla"), plan_reference="PR-7781"
    )
    other = referral(
        cw, member=MemberFactory(cin="97654321B", last_name="Quintero"), plan_reference="PR-9902"
    )
    Referral.objects.filter(pk=other.pk).update(cbo=cw.other_cbo)  # referred to another CBO
    client.force_login(cw.care_coordinator)  # the plan sees both
    url = reverse("referrals:list")
    assert _numbers(client, f"{url}?q=91234567A") == {mine.number}
    assert _numbers(client, f"{url}?q=Quint") == {mine.number, other.number}
    assert _numbers(client, f"{url}?q=PR-9902") == {other.number}
    assert _numbers(client, f"{url}?q=Northside") == {other.number}
    assert _numbers(client, f"{url}?q=PR-0000") == set()
    # The first CBO finds its own by every key, and the other CBO's by none.
    client.force_login(cw.cbo_staff)
    assert _numbers(client, f"{url}?q=PR-7781") == {mine.number}
    for q in ("97654321B", "Quintero", "PR-9902", "Northside"):
        assert _numbers(client, f"{url}?q={q}") == set(), q


def test_a_page_past_the_first_holds_the_rows_in_list_order(cw, client):
    made = [referral(cw, accept=False) for _ in range(7)]
    client.force_login(cw.care_coordinator)
    pages = [
        [row["number"] for row in client.get(f"/api/v1/referrals/?page_size=3&page={n}").json()["results"]]
        for n in (1, 2, 3)
    ]
    newest_first = [r.number for r in sorted(made, key=lambda r: (r.created_at, r.pk), reverse=True)]
    assert pages == [newest_first[:3], newest_first[3:6], newest_first[6:]]
    # Another CBO's staff gets none of them on any page.
    client.force_login(cw.other_cbo_staff)
    assert client.get("/api/v1/referrals/?page_size=3&page=2").status_code == 404
    assert client.get("/api/v1/referrals/?page_size=3").json()["results"] == []


def test_the_worklist_shows_the_first_referrals_and_counts_them_all(cw, client, monkeypatch):
    monkeypatch.setattr(views, "WORKLIST_ROWS", 3)
    for _ in range(5):
        referral(cw, accept=False)
    client.force_login(cw.cbo_staff)
    response = client.get(reverse("referrals:worklist"))
    assert len(response.context["awaiting"]) == 3
    assert response.context["awaiting_count"] == (5, False)
    page = response.content.decode()
    assert '<div class="stat">5</div><div class="stat-label">Awaiting your response' in page
    assert "See all 5</a>" in page
    # The other CBO has nothing waiting.
    client.force_login(cw.other_cbo_staff)
    response = client.get(reverse("referrals:worklist"))
    assert response.context["awaiting"] == [] and response.context["awaiting_count"] == (0, False)


def test_a_member_search_counts_only_as_far_as_the_next_page(cw, client, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for i in range(7):
        referral(cw, member=MemberFactory(last_name=f"Quintana{i}"))
    referral(cw, member=MemberFactory(last_name="Other"))
    client.force_login(cw.care_coordinator)
    url = reverse("referrals:members")
    first = client.get(url, {"q": "quintana"}).context["page"]
    assert [m.last_name for m in first] == ["Quintana0", "Quintana1"]
    assert first.has_next() and first.paginator.capped and first.paginator.count == 4
    third = client.get(url, {"q": "quintana", "page": 3}).context["page"]
    assert [m.last_name for m in third] == ["Quintana4", "Quintana5"]
    assert third.has_next() and third.paginator.count == 7 and not third.paginator.capped
    last = client.get(url, {"q": "quintana", "page": 4}).context["page"]
    assert [m.last_name for m in last] == ["Quintana6"] and not last.has_next()
    # The other CBO serves none of them.
    client.force_login(cw.other_cbo_staff)
    assert list(client.get(url, {"q": "quintana"}).context["page"]) == []
