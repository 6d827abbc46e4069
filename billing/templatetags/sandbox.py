"""``{% plan_sandbox_offer batch %}``: the batch page's offer of the plan sandbox (demo mode only).

A tag rather than view context so that the sandbox stays one pluggable piece: the rule of when it
is offered is ``billing.sandbox.offered``, and outside demo mode the tag renders nothing."""

from __future__ import annotations

from django import template

from billing import sandbox

register = template.Library()


@register.inclusion_tag("billing/includes/sandbox_offer.html", takes_context=True)
def plan_sandbox_offer(context: template.Context, batch) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    shown = user is not None and sandbox.offered(user, batch)
    return {"shown": shown, "batch": batch, "csrf_token": context.get("csrf_token")}
