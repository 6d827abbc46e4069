"""Enumerations of the contracts app: catalog categories, units of service, authorization
modes, contract statuses and claim formats."""

from __future__ import annotations

from django.db import models


class ServiceCategory(models.TextChoices):
    ECM = "ecm", "Enhanced Care Management"
    COMMUNITY_SUPPORT = "community_support", "Community Support"


class Unit(models.TextChoices):
    """What one unit of service is. DOLLAR means the units are dollars spent at cost
    (e.g. a housing deposit), so the rate is normally 1.00."""

    MIN_15 = "15min", "15 minutes"
    HOUR = "hour", "Hour"
    DAY = "day", "Day (per diem)"
    MEAL = "meal", "Meal"
    MONTH = "month", "Month"
    SERVICE = "service", "Service (per encounter)"
    DOLLAR = "dollar", "Dollar amount at cost"


class AuthorizationMode(models.TextChoices):
    """When the plan's authorization is needed: before the service (prior), never for a
    contracted provider (presumptive, ECM), after the fact (retroactive, sobering centers)."""

    PRIOR = "prior", "Prior authorization required"
    PRESUMPTIVE = "presumptive", "Presumptively authorized"
    RETROACTIVE = "retroactive", "Authorized retroactively"
    NONE = "none", "No authorization needed"


class ContractStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    TERMINATED = "terminated", "Terminated"


class ClaimFormat(models.TextChoices):
    X12_837P = "837p", "X12 837P claims"
    INVOICE = "invoice", "Invoices"


class CoverageReason(models.TextChoices):
    """Why a service is or is not covered on a date (the ``reason`` of a Coverage)."""

    COVERED = "covered", "Covered"
    UNKNOWN_SERVICE = "unknown_service", "Unknown service"
    SERVICE_RETIRED = "service_retired", "Service not in the catalog on that date"
    NO_CONTRACT = "no_contract", "No contract"
    NOT_YET_EFFECTIVE = "not_yet_effective", "Contract not yet effective"
    EXPIRED = "expired", "Contract ended"
    TERMINATED = "terminated", "Contract terminated"
    SERVICE_NOT_COVERED = "service_not_covered", "Service not covered by the contract"
    COUNTY_NOT_COVERED = "county_not_covered", "County not covered by the contract"
    INVALID_UNITS = "invalid_units", "Invalid number of units"


class ConsentKind(models.TextChoices):
    """The member consents we record; a contract's rate line may require one before its
    service is logged."""

    ECM_ENROLLMENT = "ecm_enrollment", "ECM enrollment"
    DATA_SHARING = "data_sharing", "Data sharing / release of information"
    SERVICE = "service", "Consent to receive the service"
