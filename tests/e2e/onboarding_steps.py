"""Steps of the onboarding journey, shared by the desktop and phone browser tests.

Every step goes through the pages the way a person would: labels, roles and button names
(which doubles as a check that the forms are labelled). On a phone-sized viewport the main
navigation sits behind the menu button, so ``go_to`` and ``sign_out`` open it first.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from django.core import mail
from playwright.sync_api import Page, expect

from tests.e2e.pages import sign_in

NEW_ADMIN_PASSWORD = "Sunrise-kitchen-2025!"
STAFF_PASSWORD = "Staff-member-pass-77"
GOOD_NPI = "1234567893"  # the NPPES documentation's example NPI: passes the Luhn check


def pdf_bytes(text: str = "W-9") -> bytes:
    """A tiny but well-formed one-page PDF."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
        b"% " + text.encode() + b"\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


def png_bytes() -> bytes:
    """A valid 1x1 white PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def ensure_counties() -> None:
    """Transactional tests flush every table, including the counties a data migration loaded;
    put them back (the same CSV the migration reads)."""
    import csv

    from django.conf import settings

    from cbo_portal.models import County

    if County.objects.exists():
        return
    with (Path(settings.BASE_DIR) / "cbo_portal" / "data" / "ca_counties.csv").open(newline="") as handle:
        County.objects.bulk_create(
            County(fips=row["fips"], name=row["name"]) for row in csv.DictReader(handle)
        )


# --- navigation -------------------------------------------------------------------------------


def open_menu(page: Page) -> None:
    """On a small screen the navigation is behind the menu button; open it if it is there."""
    toggle = page.get_by_role("checkbox", name="Menu")
    if toggle.is_visible():
        toggle.check()


def go_to(page: Page, label: str) -> None:
    open_menu(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True).click()


def sign_out(page: Page) -> None:
    open_menu(page)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def expect_message(page: Page, text: str | re.Pattern) -> None:
    expect(page.get_by_role("status").filter(has_text=text)).to_be_visible()


def invitation_path(email: str) -> str:
    """The path of the newest invitation link emailed to ``email`` (the live server runs in
    this process, so its locmem outbox is ours)."""
    for message in reversed(mail.outbox):
        if email in message.to and "invited you" in message.body:
            return re.search(r"https?://[^/\s]+(/invitations/\S+/)", message.body).group(1)
    raise AssertionError(f"No invitation email to {email}: {[m.subject for m in mail.outbox]}")


# --- the journey ------------------------------------------------------------------------------


@dataclass
class Journey:
    page: Page
    base_url: str
    tmp_path: Path
    reviewer_email: str
    org_name: str = "Sunrise Meals Collective"
    admin_email: str = "director@sunrisemeals.org"

    def fits(self) -> None:
        """Nothing on the current page is wider than the screen (no sideways scrolling)."""
        width = self.page.viewport_size["width"]
        assert self.page.evaluate("document.documentElement.scrollWidth") <= width, self.page.url

    def register(self) -> None:
        page = self.page
        page.goto(self.base_url + "/login/")
        page.get_by_role("link", name="Register your organization").click()
        page.get_by_label("Organization's legal name").fill(self.org_name)
        page.get_by_label("We are a").select_option(label="Community-based organization")
        page.get_by_label("Your first name").fill("Dana")
        page.get_by_label("Your last name").fill("Okafor")
        page.get_by_label("Work email").fill(self.admin_email)
        page.get_by_label("Password").fill(NEW_ADMIN_PASSWORD)
        page.get_by_role("button", name="Create account").click()
        expect_message(page, "Your organization is registered")
        expect(page.get_by_role("heading", name=self.org_name)).to_be_visible()
        expect(page.get_by_test_id("onboarding-status")).to_have_text("Draft")
        expect(page.get_by_role("button", name="Submit for review")).to_be_disabled()
        self.fits()

    def fill_profile(self) -> None:
        page = self.page
        page.get_by_label("TIN/EIN").fill("94-1234567")
        page.get_by_label("NPI", exact=True).fill(GOOD_NPI)
        page.get_by_label("Taxonomy code").fill("251s00000x")
        page.get_by_label("Service address", exact=True).fill("1200 Sunrise Ave")
        page.get_by_label("City", exact=True).fill("Oakland")
        page.get_by_label("ZIP code", exact=True).fill("94601")
        page.get_by_label("Contact person").fill("Dana Okafor")
        page.get_by_label("Phone").fill("510-555-0142")
        page.get_by_label("Medically Tailored Meals/Medically Supportive Food").check()
        page.get_by_label("Enhanced Care Management").check()
        page.get_by_label("Alameda", exact=True).check()
        page.get_by_label("Contra Costa", exact=True).check()
        page.get_by_role("button", name="Save profile").click()
        expect_message(page, "Profile saved.")
        expect(page.get_by_test_id("check-profile")).to_have_attribute("data-done", "true")
        expect(page.get_by_test_id("check-services")).to_have_attribute("data-done", "true")
        # The service normalised what was typed.
        expect(page.get_by_label("TIN/EIN")).to_have_value("941234567")
        expect(page.get_by_label("Taxonomy code")).to_have_value("251S00000X")

    def upload(self, kind_label: str, path: Path) -> None:
        page = self.page
        page.get_by_label("Document type").select_option(label=kind_label)
        page.get_by_label("File", exact=True).set_input_files(path)
        page.get_by_role("button", name="Upload").click()
        expect_message(page, "Document uploaded.")

    def upload_documents(self) -> None:
        self.upload("W-9", write(self.tmp_path, "w9.pdf", pdf_bytes("W-9")))
        self.upload("Certificate of insurance", write(self.tmp_path, "coi.pdf", pdf_bytes("COI")))
        self.upload("Business license or 501(c)(3) letter", write(self.tmp_path, "501c3.png", png_bytes()))
        for key in ("doc_w9", "doc_insurance", "doc_license"):
            expect(self.page.get_by_test_id(f"check-{key}")).to_have_attribute("data-done", "true")
        expect(self.page.get_by_text("5 of 5 done")).to_be_visible()
        self.fits()

    def submit(self, button: str = "Submit for review") -> None:
        page = self.page
        page.get_by_role("button", name=button).click()
        expect_message(page, "Application submitted.")
        expect(page.get_by_test_id("onboarding-status")).to_have_text("Submitted")
        # Locked while with the reviewers: no profile form, no upload form.
        expect(page.get_by_role("button", name="Save profile")).to_have_count(0)
        expect(page.get_by_role("button", name="Upload")).to_have_count(0)

    def review(self, decision: str, comment: str = "") -> None:
        """As the plan's reviewer: find the application in the queue and decide."""
        page = self.page
        sign_in(page, self.base_url, self.reviewer_email)
        go_to(page, "Reviews")
        page.get_by_role("link", name=self.org_name).click()
        expect(page.get_by_role("heading", name=self.org_name)).to_be_visible()
        expect(page.get_by_role("link", name="Download W-9")).to_be_visible()
        self.fits()
        page.get_by_label(decision).check()
        if comment:
            page.get_by_label("Comment to the organization").fill(comment)
        page.get_by_role("button", name="Record decision").click()
        expect_message(page, re.compile(f"{self.org_name} is now"))
        sign_out(page)

    def fix_and_resubmit(self, comment: str) -> None:
        page = self.page
        sign_in(page, self.base_url, self.admin_email, NEW_ADMIN_PASSWORD)
        # Not yet approved: the home page sends the admin to the application.
        expect(page.get_by_test_id("onboarding-status")).to_have_text("Changes requested")
        expect(page.get_by_role("alert").filter(has_text=comment)).to_be_visible()
        self.upload("W-9", write(self.tmp_path, "w9-signed.png", png_bytes()))
        self.submit("Resubmit for review")

    def see_approved(self) -> None:
        page = self.page
        sign_in(page, self.base_url, self.admin_email, NEW_ADMIN_PASSWORD)
        go_to(page, "Onboarding")
        expect(page.get_by_test_id("onboarding-status")).to_have_text("Approved")
        expect(page.get_by_text("Your organization is approved")).to_be_visible()

    def invite_staff(self, email: str) -> None:
        """Signed in as the CBO's admin: invite someone, who accepts and signs in."""
        page = self.page
        go_to(page, "Team")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Role").select_option(label="CBO staff")
        page.get_by_role("button", name="Send invitation").click()
        expect_message(page, f"Invitation sent to {email}")
        expect(page.get_by_text(email, exact=True)).to_be_visible()
        sign_out(page)

        page.goto(self.base_url + invitation_path(email))
        expect(page.get_by_role("heading", name=f"Join {self.org_name}")).to_be_visible()
        page.get_by_label("First name").fill("Sam")
        page.get_by_label("Last name").fill("Rivera")
        page.get_by_label("Password").fill(STAFF_PASSWORD)
        page.get_by_role("button", name="Accept invitation").click()
        expect_message(page, f"You joined {self.org_name}")
        sign_out(page)

        sign_in(page, self.base_url, email, STAFF_PASSWORD)
        open_menu(page)
        expect(page.get_by_test_id("role")).to_have_text("CBO staff")
        expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Team")).to_be_visible()
        # Staff see the team but cannot invite.
        go_to(page, "Team")
        expect(page.get_by_role("cell", name=email)).to_be_visible()
        expect(page.get_by_role("button", name="Send invitation")).to_have_count(0)
        self.fits()

    def run(self, staff_email: str) -> None:
        comment = "The W-9 is not signed. Please upload a signed copy."
        self.register()
        self.fill_profile()
        self.upload_documents()
        self.submit()
        sign_out(self.page)
        self.review("Request changes", comment)
        self.fix_and_resubmit(comment)
        sign_out(self.page)
        self.review("Approve")
        self.see_approved()
        self.invite_staff(staff_email)
