"""Home tile for contracts: how many are active (the contract list flags those near a cap)."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import HttpRequest
from django.urls import reverse

from cbo_portal.dashboard import Tile
from contracts.choices import ContractStatus
from contracts.models import Contract


def contract_tiles(request: HttpRequest) -> Iterator[Tile]:
    if getattr(request, "org", None) is None:
        return
    count = Contract.objects.visible_to(request.user).filter(status=ContractStatus.ACTIVE).count()
    if count:
        yield Tile(
            str(count),
            f"Active contract{'s' if count != 1 else ''}",
            reverse("contracts:list"),
            "See contracts",
        )
