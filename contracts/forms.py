"""Page forms. They check shapes; the services check the rules (and report back to the fields)."""

from __future__ import annotations

from django import forms

from cbo_portal.models import County, Organization
from contracts.choices import AuthorizationMode, ConsentKind, Unit
from contracts.models import Contract, ServiceCatalogEntry

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
CAP_HELP = "Leave empty for no cap."


class ContractForm(forms.ModelForm):
    counties = forms.ModelMultipleChoiceField(
        queryset=County.objects.all(),
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Hold Ctrl (⌘ on a Mac) to choose several.",
        required=False,
    )

    class Meta:
        model = Contract
        fields = [
            "cbo",
            "number",
            "title",
            "start_date",
            "end_date",
            "counties",
            "not_to_exceed",
            "payer_id",
            "receiver_id",
            "submitter_id",
            "claim_format",
            "timely_filing_days",
            "payment_terms_days",
            "plan_contact_name",
            "plan_contact_email",
            "plan_contact_phone",
            "cbo_contact_name",
            "cbo_contact_email",
            "cbo_contact_phone",
        ]
        widgets = {"start_date": DATE, "end_date": DATE}
        labels = {"cbo": "CBO or hub", "not_to_exceed": "Contract ceiling ($)"}
        # The model's help texts name the claim-file fields; a contract manager reads these.
        help_texts = {
            "payer_id": "The plan's payer id, as its claims clearinghouse lists it.",
            "receiver_id": "The id of the plan's clearinghouse that receives claim files.",
            "submitter_id": "The id the clearinghouse gave the organization that sends the claim files.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cbo"].queryset = Organization.objects.approved_providers().order_by("legal_name")
        self.fields["cbo"].help_text = "Only organizations that passed onboarding can be contracted."
        if self.instance.pk:
            self.fields["cbo"].disabled = True

    def _post_clean(self) -> None:
        return  # the service validates the contract as a whole


class ServiceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ServiceCatalogEntry) -> str:
        return f"{obj.name} · {obj.label}"


class TermsForm(forms.Form):
    """Rate and caps of a rate line (adding one to a draft, or amending one)."""

    rate = forms.DecimalField(
        label="Rate ($ per unit)",
        max_digits=12,
        decimal_places=4,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    unit = forms.ChoiceField(
        label="Unit of service", choices=[("", "Catalog default"), *Unit.choices], required=False
    )
    authorization = forms.ChoiceField(
        choices=[("", "Catalog default"), *AuthorizationMode.choices], required=False
    )
    units_per_authorization = forms.IntegerField(required=False, help_text=CAP_HELP)
    units_per_day = forms.IntegerField(label="Units / member / day", required=False)
    units_per_week = forms.IntegerField(label="Units / member / week", required=False)
    units_per_month = forms.IntegerField(label="Units / member / month", required=False)
    units_per_year = forms.IntegerField(label="Units / member / year", required=False)
    lifetime_dollar_cap = forms.DecimalField(
        label="Lifetime $ / member", max_digits=12, decimal_places=2, required=False
    )
    consent_required = forms.ChoiceField(
        label="Consent required before service",
        choices=[("", "None"), *ConsentKind.choices],
        required=False,
    )

    CAPS = (
        "units_per_authorization",
        "units_per_day",
        "units_per_week",
        "units_per_month",
        "units_per_year",
        "lifetime_dollar_cap",
    )

    def terms(self) -> dict:
        data = self.cleaned_data
        terms = {"rate": data["rate"], **{c: data.get(c) for c in self.CAPS}}
        terms["consent_required"] = data.get("consent_required") or ""
        for name in ("unit", "authorization"):
            if data.get(name):
                terms[name] = data[name]
        return terms


class RateLineForm(TermsForm):
    service = ServiceChoiceField(queryset=ServiceCatalogEntry.objects.none(), empty_label="Choose a service…")
    field_order = ["service", "rate", "unit", "authorization"]

    def __init__(self, *args, on=None, exclude=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        entries = ServiceCatalogEntry.objects.exclude(pk__in=list(exclude))
        if on is not None:
            entries = entries.in_effect(on)
        self.fields["service"].queryset = entries.order_by("category", "name", "code")

    def terms(self) -> dict:
        terms = super().terms()
        # Caps left empty on a new line take the catalog's defaults.
        return {k: v for k, v in terms.items() if v not in (None, "")}


class AmendRateForm(TermsForm):
    effective_from = forms.DateField(label="Effective from", widget=DATE)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Reason for the amendment")
    field_order = ["effective_from", "rate", "unit", "authorization"]

    def terms(self) -> dict:
        return super().terms()  # an empty cap removes the cap


class TerminateForm(forms.Form):
    termination_date = forms.DateField(
        widget=DATE, help_text="Services on or after this date are not covered."
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class SignedDocumentForm(forms.Form):
    file = forms.FileField(
        label="Signed contract (PDF)", widget=forms.ClearableFileInput(attrs={"accept": ".pdf"})
    )
