"""The CalAIM service catalog: every CalAIM service with its code and modifiers, and lookup."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from cbo_portal.choices import CalAIMService
from contracts.choices import AuthorizationMode, ServiceCategory, Unit
from contracts.models import ServiceCatalogEntry, UnknownService
from contracts.services import catalog as catalog_services

# The catalog, row by row: the service, and every (code, modifiers) pair it lists.
DOMAIN_TABLE = {
    CalAIMService.ECM: [("G9008", ["U1"]), ("G9012", ["U2"]), ("G9012", ["U8"])],
    CalAIMService.HOUSING_NAVIGATION: [("H0043", ["U6"]), ("H2016", ["U6"])],
    CalAIMService.HOUSING_DEPOSITS: [("H0044", ["U2"])],
    CalAIMService.HOUSING_TENANCY: [
        ("T2040", ["U6"]),
        ("T2041", ["U6"]),
        ("T2050", ["U6"]),
        ("T2051", ["U6"]),
    ],
    CalAIMService.POST_HOSPITALIZATION_HOUSING: [("H0043", ["U3"]), ("H0044", ["U3"])],
    CalAIMService.RECUPERATIVE_CARE: [("T2033", ["U6"])],
    CalAIMService.RESPITE: [("H0045", ["U6"]), ("S5151", ["U6"]), ("S9125", ["U6"])],
    CalAIMService.DAY_HABILITATION: [
        (code, ["U6"]) for code in ("T2012", "T2014", "T2018", "T2020", "H2024", "H2026", "H2014", "H2038")
    ],
    CalAIMService.ASSISTED_LIVING_TRANSITION: [("T2038", ["U4"]), ("H2022", ["U4"])],
    CalAIMService.COMMUNITY_TRANSITION: [("T2038", ["U5"])],
    CalAIMService.PERSONAL_CARE: [("S5130", ["U6"]), ("T1019", ["U6"])],
    CalAIMService.ENVIRONMENTAL_ADAPTATIONS: [("S5165", ["U6"])],
    CalAIMService.ASTHMA_REMEDIATION: [("S5165", ["U5"])],
    CalAIMService.MEDICALLY_TAILORED_MEALS: [
        ("S5170", ["U6"]),
        ("S9470", ["U6"]),
        ("S9977", ["U4"]),
        ("S9977", ["U5"]),
        ("S9977", ["U7"]),
        ("S9977", ["U8"]),
        ("S9977", ["U9"]),
        ("S9452", ["U5"]),
        ("S9452", ["U6"]),
    ],
    CalAIMService.SOBERING_CENTERS: [("H0014", ["U6"])],
    CalAIMService.TRANSITIONAL_RENT: [
        ("H0040", ["U1"]),
        ("H0040", ["U2"]),
        ("H0043", ["U2"]),
        ("H0044", ["U6"]),
    ],
    CalAIMService.HOUSING_OUTREACH: [("T1016", ["U8"])],
}


@pytest.mark.parametrize(
    ("service", "code", "modifiers"),
    [(svc, code, mods) for svc, pairs in DOMAIN_TABLE.items() for code, mods in pairs],
)
def test_every_domain_service_is_in_the_catalog_with_its_code_and_modifiers(db, service, code, modifiers):
    entry = ServiceCatalogEntry.lookup(code, modifiers)
    assert (entry.code, entry.modifiers) == (code, modifiers)
    assert entry.service == service


def test_every_calaim_service_has_at_least_one_entry(db):
    assert set(ServiceCatalogEntry.objects.values_list("service", flat=True)) == set(CalAIMService.values)


def test_categories_units_and_authorization_defaults(db):
    ecm = ServiceCatalogEntry.lookup("G9008", ["U1"])
    assert ecm.category == ServiceCategory.ECM
    assert ecm.default_authorization == AuthorizationMode.PRESUMPTIVE
    assert ServiceCatalogEntry.lookup("H0014", ["U6"]).default_authorization == AuthorizationMode.RETROACTIVE
    deposits = ServiceCatalogEntry.lookup("H0044", ["U2"])
    assert deposits.category == ServiceCategory.COMMUNITY_SUPPORT
    assert (deposits.default_unit, deposits.default_lifetime_dollar_cap) == (Unit.DOLLAR, Decimal("5000.00"))
    assert ServiceCatalogEntry.lookup("S5170", ["U6"]).default_units_per_day == 2
    assert ServiceCatalogEntry.lookup("H0040", ["U1"]).effective_from == date(2025, 1, 1)


@pytest.mark.parametrize("modifiers", [["GQ", "U1"], ["U1", "GQ"], ["", "GQ", "", "U1"], "u1 gq", "GQ:U1"])
def test_lookup_accepts_modifiers_in_any_order_and_slot(db, modifiers):
    assert ServiceCatalogEntry.lookup("g9008", modifiers).label == "G9008-U1"


def test_same_code_different_modifier_is_a_different_service(db):
    assert ServiceCatalogEntry.lookup("G9012", ["U2"]).name == "ECM, non-clinical staff"
    assert ServiceCatalogEntry.lookup("G9012", ["U8", "GQ"]).name == "ECM outreach attempt"
    assert ServiceCatalogEntry.lookup("S5165", ["U5"]).service == CalAIMService.ASTHMA_REMEDIATION


@pytest.mark.parametrize(
    ("code", "modifiers", "message"),
    [
        ("H0043", ["U9"], "No service in the catalog for H0043 with U9."),
        ("G9008", ["U1", "U2"], "No service in the catalog for G9008 with U1, U2."),
        ("H0043", [], "No service in the catalog for H0043 with no modifiers."),
        ("XYZ", ["U6"], "“XYZ” is not a HCPCS code"),
    ],
)
def test_unknown_pair_is_a_clear_error_naming_it(db, code, modifiers, message):
    with pytest.raises(UnknownService) as caught:
        ServiceCatalogEntry.lookup(code, modifiers)
    assert message in caught.value.messages[0]
    assert isinstance(caught.value, ValidationError)


def test_platform_admin_retires_an_entry_and_nobody_else_may(world):
    entry = ServiceCatalogEntry.lookup("T2033", ["U6"])
    with pytest.raises(Exception, match="Only platform admins"):
        catalog_services.retire_entry(entry, acting_user=world.contract_manager, last_day=date(2026, 6, 30))
    retired = catalog_services.retire_entry(
        entry, acting_user=world.platform_admin, last_day=date(2026, 6, 30)
    )
    assert retired.effective_to == date(2026, 6, 30)
    assert ServiceCatalogEntry.objects.filter(pk=entry.pk).exists()  # retired, not deleted
    assert not ServiceCatalogEntry.objects.in_effect(date(2026, 7, 1)).filter(pk=entry.pk).exists()
    assert ServiceCatalogEntry.objects.in_effect(date(2026, 6, 30)).filter(pk=entry.pk).exists()


def test_catalog_edit_rejects_a_duplicate_pair(world):
    entry = ServiceCatalogEntry.lookup("H2016", ["U6"])
    with pytest.raises(ValidationError, match="H0043-U6 is already in the catalog"):
        catalog_services.update_entry(entry, acting_user=world.platform_admin, changes={"code": "H0043"})
    entry.refresh_from_db()
    assert entry.code == "H2016"
