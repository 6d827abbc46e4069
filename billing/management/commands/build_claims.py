"""``manage.py build_claims``: build and scrub claims from every billable service delivery
(the same service the page and the nightly task call), synchronously."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from billing.services.claims import build_claims
from cbo_portal.models import Organization
from cbo_portal.words import count


class Command(BaseCommand):
    help = "Build claims from logged, unbilled services (all providers, or one with --cbo)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--cbo", type=int, help="Only this provider's services (organization id)")
        parser.add_argument("--plan", type=int, help="Only services for this plan (organization id)")

    def handle(self, *args, cbo: int | None = None, plan: int | None = None, **options) -> None:
        result = build_claims(
            acting_user=None,
            cbo=Organization.objects.get(pk=cbo) if cbo else None,
            plan=Organization.objects.get(pk=plan) if plan else None,
            keep_ids=False,
        )
        self.stdout.write(
            f"Built {count(result.claims, 'claim')} ({count(result.lines, 'line')}): {result.ready} ready, {result.held} held, "
            f"${result.billed_amount:,.2f}."
        )
        for reason in result.skipped:
            self.stdout.write(f"Not billed: {reason}")
