"""The platform's framework-free identifier checks, as the X12 layer uses them (one source of
truth for the NPI, TIN, CIN, HCPCS and ICD-10 rules: cbo_portal/identifiers.py)."""

from __future__ import annotations

from cbo_portal.identifiers import (
    cin_problem,
    hcpcs_problem,
    icd10_for_x12,
    icd10_problem,
    modifier_problem,
    normalize_tin,
    npi_problem,
    taxonomy_problem,
    tin_problem,
)

__all__ = [
    "cin_problem",
    "hcpcs_problem",
    "icd10_for_x12",
    "icd10_problem",
    "modifier_problem",
    "normalize_tin",
    "npi_problem",
    "taxonomy_problem",
    "tin_problem",
]
