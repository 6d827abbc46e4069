"""The CalAIM service catalog as data, loaded by migration 0002.

Each row is one (HCPCS code, modifiers) pair. Units, authorization modes and limits are the
commonly cited defaults, not rules: each plan's contract sets its own, and platform admins edit
the catalog. ``optional`` lists modifiers that may accompany the code without making it a
different service (GQ: delivered by telephone or video).

Uncertain: the coding guidance lists Nursing Facility Transition/Diversion to Assisted Living as
"T2038 / H2022, U4 / U5", while T2038-U5 is Community Transition Services; we encode T2038-U4,
H2022-U4 and H2022-U5 for assisted living. The S9977 medically supportive food sub-types are
named by modifier only, as their plan-specific names vary.
"""

from __future__ import annotations

CALAIM_START = "2022-01-01"
TRANSITIONAL_RENT_START = "2025-01-01"

ECM = "ecm"
CS = "community_support"


def _row(
    code,
    modifiers,
    name,
    service,
    unit,
    *,
    category=CS,
    authorization="prior",
    optional=(),
    start=CALAIM_START,
    **caps,
):
    return {
        "code": code,
        "modifiers": list(modifiers),
        "optional_modifiers": list(optional),
        "name": name,
        "service": service,
        "category": category,
        "default_unit": unit,
        "default_authorization": authorization,
        "effective_from": start,
        **{f"default_{k}": v for k, v in caps.items()},
    }


CATALOG: list[dict] = [
    # Enhanced Care Management: presumptively authorized for contracted providers.
    _row(
        "G9008",
        ["U1"],
        "ECM, clinical staff",
        "ecm",
        "month",
        category=ECM,
        authorization="presumptive",
        optional=["GQ"],
        units_per_month=1,
    ),
    _row(
        "G9012",
        ["U2"],
        "ECM, non-clinical staff",
        "ecm",
        "month",
        category=ECM,
        authorization="presumptive",
        optional=["GQ"],
        units_per_month=1,
    ),
    _row(
        "G9012",
        ["U8"],
        "ECM outreach attempt",
        "ecm",
        "service",
        category=ECM,
        authorization="presumptive",
        optional=["GQ"],
    ),
    # Housing
    _row("H0043", ["U6"], "Housing Transition Navigation", "housing_navigation", "month"),
    _row("H2016", ["U6"], "Housing Transition Navigation", "housing_navigation", "day"),
    _row("H0044", ["U2"], "Housing Deposits", "housing_deposits", "dollar", lifetime_dollar_cap="5000.00"),
    _row("T2040", ["U6"], "Housing Tenancy and Sustaining Services", "housing_tenancy", "15min"),
    _row("T2041", ["U6"], "Housing Tenancy and Sustaining Services", "housing_tenancy", "15min"),
    _row("T2050", ["U6"], "Housing Tenancy and Sustaining Services", "housing_tenancy", "month"),
    _row("T2051", ["U6"], "Housing Tenancy and Sustaining Services", "housing_tenancy", "month"),
    _row(
        "H0043",
        ["U3"],
        "Short-Term Post-Hospitalization Housing",
        "post_hospitalization_housing",
        "day",
        units_per_year=180,
    ),
    _row(
        "H0044",
        ["U3"],
        "Short-Term Post-Hospitalization Housing",
        "post_hospitalization_housing",
        "day",
        units_per_year=180,
    ),
    _row(
        "T2033", ["U6"], "Recuperative Care (Medical Respite)", "recuperative_care", "day", units_per_year=90
    ),
    # Respite: ≤ 336 hours a year is commonly cited.
    _row("H0045", ["U6"], "Respite Services", "respite", "day"),
    _row("S5151", ["U6"], "Respite Services", "respite", "day"),
    _row("S9125", ["U6"], "Respite Services", "respite", "hour", units_per_year=336),
    # Day Habilitation Programs
    *[
        _row(code, ["U6"], "Day Habilitation Programs", "day_habilitation", unit)
        for code, unit in (
            ("T2012", "day"),
            ("T2014", "day"),
            ("T2018", "day"),
            ("T2020", "day"),
            ("H2024", "day"),
            ("H2026", "day"),
            ("H2014", "15min"),
            ("H2038", "15min"),
        )
    ],
    _row(
        "T2038",
        ["U4"],
        "Nursing Facility Transition/Diversion to Assisted Living",
        "assisted_living_transition",
        "service",
    ),
    _row(
        "H2022",
        ["U4"],
        "Nursing Facility Transition/Diversion to Assisted Living",
        "assisted_living_transition",
        "day",
    ),
    _row(
        "H2022", ["U5"], "Nursing Facility Diversion to Assisted Living", "assisted_living_transition", "day"
    ),
    _row(
        "T2038",
        ["U5"],
        "Community Transition Services (nursing facility to home)",
        "community_transition",
        "service",
    ),
    _row("S5130", ["U6"], "Personal Care and Homemaker Services", "personal_care", "15min"),
    _row("T1019", ["U6"], "Personal Care and Homemaker Services", "personal_care", "15min"),
    _row("S5165", ["U6"], "Environmental Accessibility Adaptations", "environmental_adaptations", "service"),
    _row("S5165", ["U5"], "Asthma Remediation", "asthma_remediation", "service"),
    # Medically Tailored Meals / Medically Supportive Food: ≤ 2 meals a day for 12 weeks.
    _row(
        "S5170",
        ["U6"],
        "Medically Tailored Meals",
        "medically_tailored_meals",
        "meal",
        units_per_day=2,
        units_per_authorization=168,
    ),
    _row(
        "S9470",
        ["U6"],
        "Medically Tailored Meals, nutritional counseling",
        "medically_tailored_meals",
        "service",
    ),
    _row("S9977", ["U6"], "Medically Supportive Food", "medically_tailored_meals", "day"),
    *[
        _row("S9977", [mod], f"Medically Supportive Food, sub-type {mod}", "medically_tailored_meals", "day")
        for mod in ("U4", "U5", "U7", "U8", "U9")
    ],
    _row("S9452", ["U5"], "Nutrition education, individual", "medically_tailored_meals", "service"),
    _row("S9452", ["U6"], "Nutrition education, group", "medically_tailored_meals", "service"),
    # Sobering centers are authorized after the fact: one stay of under 24 hours.
    _row(
        "H0014",
        ["U6"],
        "Sobering Centers",
        "sobering_centers",
        "service",
        authorization="retroactive",
        units_per_day=1,
    ),
    # Transitional Rent (2025+): up to six months.
    *[
        _row(
            code,
            [mod],
            "Transitional Rent",
            "transitional_rent",
            "month",
            start=TRANSITIONAL_RENT_START,
            units_per_year=6,
        )
        for code, mod in (("H0040", "U1"), ("H0040", "U2"), ("H0043", "U2"), ("H0044", "U6"))
    ],
    _row(
        "T1016",
        ["U8"],
        "Housing outreach",
        "housing_outreach",
        "15min",
        authorization="none",
        optional=["GQ"],
    ),
]


def _key(modifiers: list[str]) -> str:
    return ",".join(sorted({m.upper() for m in modifiers}))


def load_catalog(entry_model) -> int:
    """Create the catalog entries that are missing, by (code, modifiers); returns how many.
    ``entry_model`` is the historical model in a migration, or ServiceCatalogEntry."""
    from datetime import date
    from decimal import Decimal

    created = 0
    for row in CATALOG:
        row = dict(row)
        code = row.pop("code")
        row["modifiers"] = sorted({m.upper() for m in row["modifiers"]})
        row["optional_modifiers"] = sorted(row["optional_modifiers"])
        row["effective_from"] = date.fromisoformat(row["effective_from"])
        if row.get("default_lifetime_dollar_cap") is not None:
            row["default_lifetime_dollar_cap"] = Decimal(row["default_lifetime_dollar_cap"])
        _entry, was_created = entry_model.objects.get_or_create(
            code=code, modifier_key=_key(row["modifiers"]), defaults=row
        )
        created += was_created
    return created


def unload_catalog(entry_model, used_ids: set[int]) -> None:
    for row in CATALOG:
        entry_model.objects.filter(code=row["code"], modifier_key=_key(row["modifiers"])).exclude(
            pk__in=used_ids
        ).delete()
