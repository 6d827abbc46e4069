"""Walking the pages as a persona: the world that puts every kind of page in reach, and a
breadth-first walk from home that records each page's status and any raw X12 on it. Used by the
navigation walker (links open, plain words) and the browser's layout check (nothing overflows)."""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser

from django.test import Client

from billing.services.batches import create_batch
from billing.services.claims import build_claims
from tests.billing.factories import authorized_delivery, delivery, new_member, setup_billing

PERSONAS = [
    "cbo_admin",
    "cbo_staff",
    "cbo_billing",
    "hub_billing",
    "plan_admin",
    "contract_manager",
    "care_coordinator",
    "other_cbo_admin",
    "other_cbo_staff",
    "other_plan_manager",
    "other_plan_coordinator",
    "platform_admin",
]
MAX_PAGES = 150
# Downloads and API pages are not pages a person reads; sign-out is a form, not a link.
SKIP = re.compile(
    r"format=csv|export=|/download/|/document/|/documents/|^/api/|^/admin/|/invoice/|/static/|/media/"
)
# "REF*G1", "CLM*": a segment; "CLM05-3", "GS01", "ST02": an element. HCPCS codes (G9012) have one
# letter before four digits and CINs end in a letter, so neither matches.
SEGMENT = re.compile(r"\b(?:REF|CLM|SV1|NM1|CAS|CLP|GS|ISA|ST|BPR|TRN|N1|HI|DTP)\*")
ELEMENT = re.compile(r"\b[A-Z]{2,3}\d{2}(?:-\d)?\b")
FREQUENCY = re.compile(r"\bfrequency[- ][178]\b", re.IGNORECASE)


class _Page(HTMLParser):
    """The page's links and its visible text (not scripts, styles or attribute values)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.text: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._hidden += 1
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if href.startswith("/"):
                self.links.append(href.split("#")[0])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.text.append(data)


def build_busy_world(world):
    """Billing set up, services logged, claims built (one clean, one held) and a batch: claim,
    batch, referral, member, authorization and contract pages are all in reach."""
    from contracts.models import Contract

    setup_billing(world)
    # Clearinghouse ids like the real ones (not "RCV12", which reads like an X12 element name).
    Contract.objects.update(receiver_id="PCHPCLEARING", submitter_id="GOLDENSTATEHUB")
    delivery(world)
    delivery(world, member=new_member(world, street=""))  # held: no address
    authorized_delivery(world)
    build_claims(acting_user=world.cbo_billing)
    create_batch(submitter=world.hub, plan=world.plan, acting_user=world.hub_billing)
    return world


def walk(client: Client) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Breadth-first from home: each page's status, and the raw X12 found on each."""
    seen: dict[str, int] = {}
    raw: dict[str, list[str]] = {}
    queue = deque(["/"])
    while queue and len(seen) < MAX_PAGES:
        url = queue.popleft()
        if url in seen or SKIP.search(url):
            continue
        response = client.get(url, follow=True)
        seen[url] = response.status_code
        if response.status_code >= 400 or "text/html" not in response.get("Content-Type", ""):
            continue
        page = _Page()
        page.feed(response.content.decode())
        text = " ".join(page.text)
        found = SEGMENT.findall(text) + ELEMENT.findall(text) + FREQUENCY.findall(text)
        if found:
            raw[url] = sorted(set(found))
        queue.extend(link for link in page.links if link not in seen)
    return seen, raw
