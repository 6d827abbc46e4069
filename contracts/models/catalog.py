"""The CalAIM service catalog: each service is a (HCPCS code, modifiers) pair."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from django.core.exceptions import ValidationError
from django.db import models

from cbo_portal.choices import CalAIMService
from contracts.choices import AuthorizationMode, ServiceCategory, Unit

HCPCS_RE = re.compile(r"^(?:[A-Z]\d{4}|\d{5})$")
MODIFIER_RE = re.compile(r"^[A-Z0-9]{2}$")
MAX_MODIFIERS = 4  # an 837P service line has four modifier slots


class UnknownService(ValidationError):
    """No catalog entry matches a (code, modifiers) pair. The message names the pair."""

    def __init__(self, code: str, modifiers: Iterable[str] = (), detail: str = "") -> None:
        self.code = code
        self.modifiers = tuple(modifiers)
        shown = ", ".join(self.modifiers) if self.modifiers else "no modifiers"
        message = detail or f"No service in the catalog for {code or '(blank code)'} with {shown}."
        super().__init__(message, code="unknown_service")


def normalize_code(code: str) -> str:
    return (code or "").strip().upper()


def normalize_modifiers(modifiers: Iterable[str] | str | None) -> tuple[str, ...]:
    """Modifiers as a sorted tuple of distinct upper-case pairs, whatever the order or slot.

    Accepts a list (blank slots allowed) or a string such as ``"GQ U1"``, ``"U1:GQ"`` or ``"U1,GQ"``.
    """
    if modifiers is None:
        return ()
    if isinstance(modifiers, str):
        modifiers = re.split(r"[\s,:;+]+", modifiers)
    return tuple(sorted({m.strip().upper() for m in modifiers if m and m.strip()}))


def modifier_key(modifiers: Iterable[str] | str | None) -> str:
    """The normalized, stored form of a modifier set: sorted and comma-joined (``"GQ,U1"``)."""
    return ",".join(normalize_modifiers(modifiers))


def service_label(code: str, modifiers: Iterable[str]) -> str:
    """How people write a service: ``G9008-U1`` or ``S9977-U4``."""
    return "-".join([code, *modifiers])


class ServiceCatalogEntryQuerySet(models.QuerySet):
    def visible_to(self, user) -> ServiceCatalogEntryQuerySet:
        """The catalog is reference data: every signed-in user may read it."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.all()

    def in_effect(self, on: date) -> ServiceCatalogEntryQuerySet:
        return self.filter(effective_from__lte=on).filter(
            models.Q(effective_to__isnull=True) | models.Q(effective_to__gte=on)
        )

    def lookup(self, code: str, modifiers: Iterable[str] | str | None = ()) -> ServiceCatalogEntry:
        """The entry for a code and its modifiers, given in any order and slot.

        An entry matches when the given modifiers are its own plus, at most, its optional
        ones (e.g. GQ for telephonic ECM). Raises UnknownService naming the pair otherwise.
        """
        code = normalize_code(code)
        mods = normalize_modifiers(modifiers)
        if not HCPCS_RE.match(code):
            raise UnknownService(
                code, mods, f"“{code or '(blank)'}” is not a HCPCS code (a letter and four digits)."
            )
        bad = [m for m in mods if not MODIFIER_RE.match(m)]
        if bad:
            raise UnknownService(code, mods, f"“{bad[0]}” is not a modifier (two letters or digits).")
        given = set(mods)
        candidates = [e for e in self.filter(code=code) if e.matches(given)]
        if not candidates:
            raise UnknownService(code, mods)
        # The most specific entry wins (most of the given modifiers are its own).
        candidates.sort(key=lambda e: -len(e.modifiers))
        return candidates[0]


class ServiceCatalogEntry(models.Model):
    """One CalAIM service as plans encode it: a HCPCS code plus modifiers (the identity),
    with the defaults a contract's rate line starts from (unit, authorization, caps).

    Rules: the (code, modifiers) pair is unique; modifiers are stored sorted; entries are never
    deleted, only retired by giving them a last day (``effective_to``); each maps to one of the
    CalAIM services providers say they offer.
    """

    code = models.CharField("HCPCS code", max_length=5, db_index=True)
    modifiers = models.JSONField(default=list, blank=True, help_text="Sorted list of two-character modifiers")
    modifier_key = models.CharField(max_length=20, blank=True, editable=False)
    optional_modifiers = models.JSONField(
        default=list,
        blank=True,
        help_text="Modifiers that may accompany the code without changing the "
        "service, e.g. GQ for telephonic or video",
    )
    name = models.CharField(max_length=160)
    service = models.CharField("CalAIM service", max_length=40, choices=CalAIMService.choices)
    category = models.CharField(max_length=20, choices=ServiceCategory.choices)
    description = models.TextField(blank=True)
    default_unit = models.CharField(max_length=10, choices=Unit.choices)
    default_authorization = models.CharField(
        max_length=12, choices=AuthorizationMode.choices, default=AuthorizationMode.PRIOR
    )
    default_units_per_authorization = models.PositiveIntegerField(null=True, blank=True)
    default_units_per_day = models.PositiveIntegerField(null=True, blank=True)
    default_units_per_week = models.PositiveIntegerField(null=True, blank=True)
    default_units_per_month = models.PositiveIntegerField(null=True, blank=True)
    default_units_per_year = models.PositiveIntegerField(null=True, blank=True)
    default_lifetime_dollar_cap = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True, help_text="Last day in use; empty while current")
    updated_at = models.DateTimeField(auto_now=True)

    objects = ServiceCatalogEntryQuerySet.as_manager()

    class Meta:
        ordering = ["category", "name", "code", "modifier_key"]
        verbose_name = "service catalog entry"
        verbose_name_plural = "service catalog"
        constraints = [
            models.UniqueConstraint(fields=["code", "modifier_key"], name="catalog_code_modifiers_unique")
        ]

    def __str__(self) -> str:
        return self.display

    def save(self, *args, **kwargs) -> None:
        self.code = normalize_code(self.code)
        self.modifiers = list(normalize_modifiers(self.modifiers))
        self.optional_modifiers = list(normalize_modifiers(self.optional_modifiers))
        self.modifier_key = modifier_key(self.modifiers)
        super().save(*args, **kwargs)

    @classmethod
    def lookup(cls, code: str, modifiers: Iterable[str] | str | None = ()) -> ServiceCatalogEntry:
        """See ServiceCatalogEntryQuerySet.lookup."""
        return cls.objects.lookup(code, modifiers)

    @property
    def label(self) -> str:
        return service_label(self.code, self.modifiers)

    @property
    def display(self) -> str:
        """How a staffer reads the service: its name, the billing code second."""
        return f"{self.name} ({self.label})"

    @property
    def retired(self) -> bool:
        from django.utils import timezone

        return self.effective_to is not None and self.effective_to < timezone.localdate()

    def in_effect(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def matches(self, given: set[str]) -> bool:
        own = set(self.modifiers)
        return own <= given and given - own <= set(self.optional_modifiers)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        self.code = normalize_code(self.code)
        if not HCPCS_RE.match(self.code):
            errors["code"] = "A HCPCS code is a letter and four digits (e.g. H0043) or five digits."
        mods = normalize_modifiers(self.modifiers)
        if any(not MODIFIER_RE.match(m) for m in mods) or len(mods) > MAX_MODIFIERS:
            errors["modifiers"] = "Up to four modifiers of two letters or digits each."
        if self.effective_to and self.effective_from and self.effective_to < self.effective_from:
            errors["effective_to"] = "The last day cannot be before the first."
        if self.default_lifetime_dollar_cap is not None and self.default_lifetime_dollar_cap <= 0:
            errors["default_lifetime_dollar_cap"] = "A cap must be more than zero."
        if errors:
            raise ValidationError(errors)
        self.modifiers = list(mods)
        self.modifier_key = modifier_key(mods)
