"""What every browser test does: sign in, take a screenshot to look at, upload an X12 file."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD

SHOTS = Path("/tmp/shots")


def sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(base_url + "/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out", include_hidden=True)).to_be_attached()


def screenshot(page: Page, name: str) -> None:
    """A full-page PNG at /tmp/shots/<name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def upload_x12(page: Page, base_url: str, tmp_path: Path, name: str, data: bytes) -> None:
    """Upload a 999 or 835 on the remittances page."""
    path = tmp_path / name
    path.write_bytes(data)
    page.goto(base_url + "/billing/remittances/upload/")
    page.get_by_label("X12 file").set_input_files(str(path))
    page.get_by_role("button", name="Import file").click()
