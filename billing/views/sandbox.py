"""The plan sandbox page (demo mode only): what the demo plan will decide on a batch, the button
that has it answer, and the answers it sent. A thin view over ``billing.sandbox``, which decides
when the sandbox exists; outside demo mode this page is a 404."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods

from billing import sandbox
from billing.audit import record_claims_view
from billing.models import Acknowledgement, Batch, Claim, Remittance
from cbo_portal.views.shell import SERVICE_ERRORS, apply_service_error, get_visible, portal_view


@portal_view
@require_http_methods(["GET", "POST"])
def batch_sandbox(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_visible(Batch.objects.select_related("plan", "submitter"), request.user, pk=pk)
    try:
        if request.method == "POST":
            run = sandbox.answer_batch(batch, acting_user=request.user)
            if run.changed:
                messages.success(
                    request,
                    f"{batch.plan} answered batch {batch.pk}. "
                    + " ".join(d.summary for d in run.deliveries if not d.already),
                )
            else:
                messages.info(
                    request, f"{batch.plan} had already answered batch {batch.pk}; nothing was posted twice."
                )
            return redirect("billing:batch_sandbox", pk=pk)
        decisions = sandbox.preview(batch, acting_user=request.user)
    except sandbox.SandboxOff as exc:
        raise Http404 from exc
    except SERVICE_ERRORS as error:
        for message in apply_service_error(None, error):
            messages.error(request, message)
        return redirect("billing:batch", pk=pk)
    claims = Claim.objects.filter(batch=batch).select_related("member")
    record_claims_view(acting_user=request.user, claims=claims, where=f"plan sandbox of batch {batch.pk}")
    by_number = {c.control_number: c for c in claims}
    rows = [(d, by_number.get(d.control_number)) for d in decisions]
    acks = Acknowledgement.objects.filter(batch=batch).order_by("imported_at", "pk")
    remits = (
        Remittance.objects.visible_to(request.user)
        .filter(claims__claim__batch=batch)
        .distinct()
        .order_by("pk")
    )
    return render(
        request,
        "billing/batch_sandbox.html",
        {
            "batch": batch,
            "rows": rows,
            "acks": acks,
            "remittances": remits,
            "paid": sum(1 for d in decisions if d.outcome == sandbox.PAID),
        },
    )


urlpatterns = [
    path("billing/batches/<int:pk>/sandbox/", batch_sandbox, name="batch_sandbox"),
]
