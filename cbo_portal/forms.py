from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.template.defaultfilters import filesizeformat

from cbo_portal.choices import ADMIN_ROLES, CalAIMService, DocumentKind, OnboardingStatus, Role
from cbo_portal.models import County, Organization


class RegisterForm(forms.Form):
    legal_name = forms.CharField(
        label="Organization's legal name",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
        help_text="As it appears on your W-9.",
    )
    first_name = forms.CharField(
        label="Your first name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        label="Your last name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "family-name"})
    )
    email = forms.EmailField(label="Work email", widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        label="Password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    kind = forms.ChoiceField(
        label="We are a",
        choices=[
            ("cbo", "Community-based organization"),
            ("hub", "Community care hub billing for other CBOs"),
        ],
        initial="cbo",
    )


class ProfileForm(forms.ModelForm):
    counties = forms.ModelMultipleChoiceField(
        queryset=County.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Counties you serve",
    )
    services_offered = forms.MultipleChoiceField(
        choices=CalAIMService.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Services you offer",
    )

    class Meta:
        model = Organization
        fields = [
            "legal_name",
            "dba",
            "tin",
            "npi",
            "taxonomy_code",
            "medi_cal_provider_number",
            "service_street",
            "service_street2",
            "service_city",
            "service_state",
            "service_zip",
            "mailing_same_as_service",
            "mailing_street",
            "mailing_city",
            "mailing_state",
            "mailing_zip",
            "phone",
            "contact_name",
            "contact_email",
            "services_offered",
        ]
        labels = {
            "legal_name": "Legal name",
            "medi_cal_provider_number": "Medi-Cal provider number",
            "mailing_same_as_service": "Mailing address is the same as the service address",
            "service_zip": "ZIP code",
            "service_state": "State",
            "mailing_state": "Mailing state",
            "phone": "Phone",
            "contact_name": "Contact person",
            "contact_email": "Contact email",
        }
        help_texts = {"npi": "Your organization's Type 2 NPI from NPPES."}
        widgets = {
            "tin": forms.TextInput(attrs={"placeholder": "12-3456789", "inputmode": "numeric"}),
            "npi": forms.TextInput(attrs={"placeholder": "10 digits", "inputmode": "numeric"}),
            "service_zip": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "postal-code"}),
            "mailing_zip": forms.TextInput(attrs={"inputmode": "numeric"}),
            "service_state": forms.TextInput(attrs={"maxlength": 2, "autocomplete": "address-level1"}),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
            "contact_email": forms.EmailInput(attrs={"autocomplete": "email"}),
        }

    def _post_clean(self) -> None:
        # Validation of the model is the service's job (it calls full_clean and reports back).
        return


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(choices=DocumentKind.choices, label="Document type")
    file = forms.FileField(
        label="File",
        widget=forms.FileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        limit = filesizeformat(settings.DOCUMENT_MAX_BYTES)
        self.fields["file"].help_text = f"PDF, PNG or JPEG, up to {limit}."


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            (OnboardingStatus.APPROVED, "Approve"),
            (OnboardingStatus.CHANGES_REQUESTED, "Request changes"),
            (OnboardingStatus.REJECTED, "Reject"),
        ],
        widget=forms.RadioSelect,
        label="Decision",
    )
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        label="Comment to the organization",
        help_text="Required when you request changes or reject. The organization sees it and gets it by email.",
    )


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(choices=Role.choices, label="Role")

    def __init__(self, *args, allowed_roles: tuple[str, ...] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if allowed_roles:
            self.fields["role"].choices = [(r, Role(r).label) for r in allowed_roles]
            # Pre-select the least powerful role, so nobody becomes an admin by an unchanged default.
            self.fields["role"].initial = next((r for r in allowed_roles if r not in ADMIN_ROLES), None)


class AcceptInvitationForm(forms.Form):
    first_name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "family-name"})
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Choose a password of at least 10 characters. If you already have an account, "
        "enter its password.",
    )


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=80, label="Token name", help_text="What will use it, e.g. 'EHR nightly sync'"
    )
