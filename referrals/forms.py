"""Forms of the referrals pages. They only shape input; every rule lives in the models and
services, whose messages the views put back on these fields."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone

from cbo_portal.models import County, Organization
from contracts.choices import ConsentKind
from contracts.models import ServiceCatalogEntry
from referrals.choices import (
    AuthorizationStatus,
    ConsentMethod,
    ConsentStatus,
    ContactPreference,
    LoopClosureReason,
    OutreachMethod,
    PlaceOfService,
    PopulationOfFocus,
    Priority,
    ReferralSource,
    Sex,
)
from referrals.models import Referral

DATE = forms.DateInput(attrs={"type": "date"})


class ServiceChoiceField(forms.ModelChoiceField):
    @staticmethod
    def service_label(obj: ServiceCatalogEntry) -> str:
        return f"{obj.name} · {obj.label}"

    def label_from_instance(self, obj: ServiceCatalogEntry) -> str:
        return self.service_label(obj)


class ReferralChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Referral) -> str:
        return f"{obj.member.full_name} · {obj.service.display} ({obj.number})"


class ReferralForm(forms.Form):
    """A referral of one member for one service: by the plan to a CBO, or recorded by a CBO
    (self/community referral) for the member's plan to review."""

    cin = forms.CharField(label="CIN", max_length=9, help_text="8 digits and a letter, e.g. 91234567A")
    first_name = forms.CharField(max_length=80)
    last_name = forms.CharField(max_length=80)
    dob = forms.DateField(label="Date of birth", widget=DATE)
    sex = forms.ChoiceField(choices=Sex.choices, initial=Sex.UNKNOWN)
    phone = forms.CharField(max_length=20, required=False, widget=forms.TextInput(attrs={"type": "tel"}))
    street = forms.CharField(max_length=200, required=False)
    city = forms.CharField(max_length=80, required=False)
    zip = forms.CharField(label="ZIP code", max_length=10, required=False)
    county = forms.ModelChoiceField(queryset=County.objects.all(), required=False, to_field_name="name")
    preferred_language = forms.CharField(max_length=40, required=False)
    cbo = forms.ModelChoiceField(label="Refer to", queryset=Organization.objects.none())
    plan = forms.ModelChoiceField(label="Member's health plan", queryset=Organization.objects.none())
    source = forms.ChoiceField(
        choices=[(ReferralSource.SELF, "Self-referral"), (ReferralSource.COMMUNITY, "Community referral")],
        widget=forms.RadioSelect,
        initial=ReferralSource.SELF,
    )
    service = ServiceChoiceField(queryset=ServiceCatalogEntry.objects.none())
    priority = forms.ChoiceField(choices=Priority.choices, widget=forms.RadioSelect, initial=Priority.ROUTINE)
    reason = forms.CharField(
        label="Reason for referral", widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    diagnosis_codes = forms.CharField(
        label="Diagnosis codes (ICD-10)",
        required=False,
        help_text="Separate with commas, e.g. Z59.01, Z59.41",
    )
    population = forms.ChoiceField(
        label="Population of focus", choices=[("", "—"), *PopulationOfFocus.choices], required=False
    )
    contact_preference = forms.ChoiceField(
        choices=[("", "No preference"), *ContactPreference.choices], required=False
    )
    contact_notes = forms.CharField(label="Best times / contact notes", max_length=200, required=False)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    plan_reference = forms.CharField(label="Your referral id", max_length=40, required=False)

    MEMBER_FIELDS = (
        "first_name",
        "last_name",
        "dob",
        "sex",
        "phone",
        "street",
        "city",
        "zip",
        "county",
        "preferred_language",
    )

    def __init__(self, *args, by_plan: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.by_plan = by_plan
        self.fields["service"].queryset = ServiceCatalogEntry.objects.filter(
            effective_to__isnull=True
        ).order_by("code", "modifier_key")
        if by_plan:
            self.fields["cbo"].queryset = Organization.objects.approved_providers().order_by("legal_name")
            for name in ("plan", "source"):
                del self.fields[name]
        else:
            self.fields["plan"].queryset = Organization.objects.filter(kind="plan").order_by("legal_name")
            for name in ("cbo", "plan_reference"):
                del self.fields[name]

    def member_data(self) -> dict:
        """The member's details with their CIN, as the referral services take them."""
        return {"cin": self.cleaned_data["cin"], **{k: self.cleaned_data[k] for k in self.MEMBER_FIELDS}}

    def referral_data(self) -> dict:
        skip = {"cin", "cbo", "plan", "service", "source", *self.MEMBER_FIELDS}
        data = {k: v for k, v in self.cleaned_data.items() if k not in skip}
        data["diagnosis_codes"] = [
            c.strip() for c in data["diagnosis_codes"].replace(";", ",").split(",") if c.strip()
        ]
        return data


class MemberRecordForm(forms.Form):
    """The member's record as their plan edits it, or a correction a CBO proposes (``note`` only
    then). Blank fields leave the record as it is."""

    first_name = forms.CharField(max_length=80, required=False)
    last_name = forms.CharField(max_length=80, required=False)
    dob = forms.DateField(label="Date of birth", widget=DATE, required=False)
    phone = forms.CharField(max_length=20, required=False, widget=forms.TextInput(attrs={"type": "tel"}))
    street = forms.CharField(max_length=200, required=False)
    city = forms.CharField(max_length=80, required=False)
    zip = forms.CharField(label="ZIP code", max_length=10, required=False)
    county = forms.ModelChoiceField(queryset=County.objects.all(), required=False, to_field_name="name")
    preferred_language = forms.CharField(max_length=40, required=False)
    note = forms.CharField(label="What changed, and how you know", max_length=300, required=False)

    def __init__(self, *args, proposing: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not proposing:
            del self.fields["note"]

    def details(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "note" and v not in (None, "")}


class CoverageForm(forms.Form):
    """A period of the member's coverage with the plan, as the plan records or changes it."""

    start_date = forms.DateField(label="Covered from", widget=DATE)
    end_date = forms.DateField(label="Covered through (blank: open-ended)", widget=DATE, required=False)
    aid_code = forms.CharField(label="Aid code", max_length=4, required=False)
    program = forms.CharField(max_length=60, required=False)


class ConsentForm(forms.Form):
    kind = forms.ChoiceField(label="Consent", choices=ConsentKind.choices)
    status = forms.ChoiceField(choices=ConsentStatus.choices)
    on = forms.DateField(label="As of", widget=DATE)
    method = forms.ChoiceField(label="How", choices=ConsentMethod.choices)
    document = forms.FileField(label="Signed form (PDF, PNG or JPEG)", required=False)
    note = forms.CharField(max_length=300, required=False)


class RosterForm(forms.Form):
    file = forms.FileField(
        label="Eligibility roster (CSV)",
        help_text="Columns: cin, first_name, last_name, dob, coverage_start; optionally coverage_end and aid_code.",
    )
    roster_date = forms.DateField(
        label="Roster as of",
        widget=DATE,
        help_text="The first day the roster speaks for. Members you cover that are not on it are ended the day before.",
    )


class CoverageEndForm(forms.Form):
    enrollment = forms.IntegerField(widget=forms.HiddenInput)
    end_date = forms.DateField(label="Last covered day", widget=DATE)


class CorrectionDecisionForm(forms.Form):
    correction = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    note = forms.CharField(label="Reason (needed to reject)", max_length=300, required=False)


class DiagnosesForm(forms.Form):
    diagnosis_codes = forms.CharField(
        label="Diagnosis codes (ICD-10)",
        max_length=200,
        help_text="Separate with commas, e.g. Z59.01, Z59.41",
    )

    def clean_diagnosis_codes(self) -> list[str]:
        return [
            c.strip() for c in self.cleaned_data["diagnosis_codes"].replace(";", ",").split(",") if c.strip()
        ]


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label="Why are you declining?",
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": "e.g. at capacity this month"}),
    )


class CloseForm(forms.Form):
    reason = forms.ChoiceField(
        label="Loop-closure reason", choices=[("", "Choose…"), *LoopClosureReason.choices]
    )
    note = forms.CharField(label="Closure note", max_length=300, required=False)


class OutreachForm(forms.Form):
    attempted_on = forms.DateField(label="Date", widget=DATE, initial=timezone.localdate)
    method = forms.ChoiceField(choices=OutreachMethod.choices)
    successful = forms.BooleanField(label="Reached the member", required=False)
    minutes = forms.IntegerField(min_value=0, initial=10)
    note = forms.CharField(max_length=300, required=False)


class AuthorizeForm(forms.Form):
    number = forms.CharField(label="Authorization number", max_length=40)
    units = forms.DecimalField(max_digits=10, decimal_places=2, min_value=0)
    start_date = forms.DateField(widget=DATE, initial=timezone.localdate)
    end_date = forms.DateField(widget=DATE, initial=lambda: timezone.localdate() + timedelta(days=90))
    note = forms.CharField(max_length=300, required=False)


class RequestAuthorizationForm(forms.Form):
    units = forms.DecimalField(label="Units needed", max_digits=10, decimal_places=2, min_value=0)
    start_date = forms.DateField(widget=DATE, initial=timezone.localdate)
    end_date = forms.DateField(widget=DATE, initial=lambda: timezone.localdate() + timedelta(days=90))
    note = forms.CharField(label="Why", max_length=300, required=False)


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            (AuthorizationStatus.APPROVED, "Approve"),
            (AuthorizationStatus.PARTIALLY_APPROVED, "Approve fewer units"),
            (AuthorizationStatus.DENIED, "Deny"),
        ],
        widget=forms.RadioSelect,
        initial=AuthorizationStatus.APPROVED,
    )
    number = forms.CharField(label="Authorization number", max_length=40, required=False)
    units_approved = forms.DecimalField(
        label="Units approved",
        max_digits=10,
        decimal_places=2,
        required=False,
        help_text="Leave empty to approve all the units requested",
    )
    note = forms.CharField(label="Note (required to deny)", max_length=300, required=False)


class LogServiceForm(forms.Form):
    """The phone form: which referral, the day (today by default), units or minutes, where."""

    referral = ReferralChoiceField(label="Member and service", queryset=Referral.objects.none())
    service_date = forms.DateField(label="Date of service", widget=DATE, initial=timezone.localdate)
    units = forms.DecimalField(
        max_digits=10,
        decimal_places=2,
        required=False,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any"}),
    )
    minutes = forms.IntegerField(
        min_value=1,
        required=False,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text="Or the minutes spent; they convert to the contract's unit",
    )
    place_of_service = forms.ChoiceField(
        label="Place of service", choices=PlaceOfService.choices, initial=PlaceOfService.HOME
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    days = forms.MultipleChoiceField(
        label="Or log several days (daily services)", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, referrals, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["referral"].queryset = referrals
        today = timezone.localdate()
        monday = today - timedelta(days=today.weekday())
        week = [monday + timedelta(days=i) for i in range(5)]
        week = [d for d in week if d <= today] or [today]
        self.fields["days"].choices = [(d.isoformat(), f"{d:%a %b} {d.day}") for d in week]

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors and data.get("units") is None and not data.get("minutes"):
            self.add_error("units", "Enter the units delivered, or the minutes spent.")
        return data


class EditDeliveryForm(forms.Form):
    service_date = forms.DateField(label="Date of service", widget=DATE)
    units = forms.DecimalField(max_digits=10, decimal_places=2)
    place_of_service = forms.ChoiceField(label="Place of service", choices=PlaceOfService.choices)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    reason = forms.CharField(label="Reason for the correction", max_length=300, required=False)


class VoidForm(forms.Form):
    reason = forms.CharField(label="Why void this entry?", max_length=300)


class UploadForm(forms.Form):
    file = forms.FileField(label="Referral file (CSV)")
    cbo = forms.ModelChoiceField(
        label="Refer rows to",
        queryset=Organization.objects.none(),
        required=False,
        help_text="Rows with a cbo_npi column go to that CBO instead",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cbo"].queryset = Organization.objects.approved_providers().order_by("legal_name")
