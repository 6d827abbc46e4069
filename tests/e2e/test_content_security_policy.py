"""Under the Content-Security-Policy the pages still work in a real browser: the browser reports
no violation, the organization switcher (static JS) submits on change, and the API docs page
(Swagger UI from our own static files) renders the operations."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from cbo_portal.choices import Role
from cbo_portal.models import Membership
from tests.e2e.pages import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _watch_violations(page) -> list[str]:
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    return seen


def test_pages_and_api_docs_work_under_the_policy(browser, live_server, world):
    Membership.objects.create(user=world.cbo_admin, organization=world.other_cbo, role=Role.CBO_STAFF)
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    violations = _watch_violations(page)
    sign_in(page, live_server.url, world.cbo_admin.email)

    page.goto(live_server.url + "/team/")
    expect(page.get_by_role("cell", name="staff@eastside.org", exact=True)).to_be_visible()
    page.get_by_label("Acting for").select_option(label="Northside Housing Partners")
    # The switch posts and lands on the home page, now acting as staff of the other CBO.
    expect(page.get_by_test_id("role")).to_have_text("CBO staff")
    expect(page.get_by_label("Acting for")).to_have_value(str(world.other_cbo.pk))

    for path in ["/", "/account/", "/account/two-factor/", "/onboarding/"]:
        page.goto(live_server.url + path)

    page.goto(live_server.url + "/api/v1/docs/")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=15_000)
    assert violations == []


def test_static_behaviours_replace_the_inline_handlers(browser, live_server, db):
    """data-confirm asks before submitting (the denial page's “Void claim”); data-print prints."""
    page = browser.new_context().new_page()
    violations = _watch_violations(page)
    page.goto(live_server.url + "/login/")
    page.evaluate(
        """() => {
        document.body.insertAdjacentHTML("beforeend",
          '<form id="f" method="get" action="/login/" data-confirm="Void claim X?">' +
          '<input type="hidden" name="confirmed" value="1"><button>Void</button></form>' +
          '<button id="p" type="button" data-print>Print</button>');
        window.printed = 0; window.print = () => { window.printed += 1; };
      }"""
    )
    questions: list[str] = []

    def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    page.locator("#f button").click()
    page.wait_for_timeout(300)
    assert "confirmed=1" not in page.url and questions == ["Void claim X?"]
    page.locator("#p").click()
    assert page.evaluate("window.printed") == 1

    page.once("dialog", lambda d: answer(d, True))
    page.locator("#f button").click()
    page.wait_for_url("**confirmed=1")
    assert violations == []
