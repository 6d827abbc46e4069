"""Sign-in, two-factor, registration and invitation pages."""

from __future__ import annotations

import base64
import io

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView, PasswordChangeView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from cbo_portal.forms import AcceptInvitationForm, RegisterForm
from cbo_portal.services import people
from cbo_portal.services.organizations import Registration, register_provider
from cbo_portal.two_factor import needs_second_factor
from cbo_portal.views.shell import SERVICE_ERRORS, apply_service_error, portal_view


class PortalPasswordChangeView(PasswordChangeView):
    """Change the password while signed in (keeps the session; back to account settings)."""

    template_name = "registration/portal_password_change.html"
    success_url = reverse_lazy("account")

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated and needs_second_factor(request):
            return redirect(f"/login/verify/?next={request.get_full_path()}")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Your password is changed.")
        return response


class PortalLoginView(LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        if needs_second_factor(self.request):
            return redirect(f"/login/verify/?next={self.get_success_url()}")
        return response


@require_http_methods(["GET", "POST"])
def verify_second_factor(request: HttpRequest) -> HttpResponse:
    """Second step of sign-in for users with an authenticator app."""
    if not request.user.is_authenticated:
        return redirect("login")
    next_url = request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    error = None
    if request.method == "POST":
        code = request.POST.get("code", "").strip().replace(" ", "")
        for device in TOTPDevice.objects.devices_for_user(request.user, confirmed=True):
            if device.verify_token(code):
                otp_login(request, device)
                return redirect(next_url)
        error = "That code did not match. Use the current 6-digit code from your authenticator app."
    return render(request, "registration/verify.html", {"error": error, "next": next_url})


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """Self-registration: a CBO (or hub) and its first admin."""
    form = RegisterForm(request.POST or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            _org, user = register_provider(Registration(**form.cleaned_data))
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, "Welcome! Your organization is registered. Complete the checklist to apply."
            )
            return redirect("onboarding")
    return render(request, "cbo_portal/register.html", {"form": form, "errors": errors})


@require_http_methods(["GET", "POST"])
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = people.find_invitation(token)
    except people.InvitationError as exc:
        return render(request, "cbo_portal/invitation_invalid.html", {"message": exc.messages[0]}, status=410)
    form = AcceptInvitationForm(request.POST or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            user = people.accept_invitation(token, user=request.user, **form.cleaned_data)
        except SERVICE_ERRORS as exc:
            errors = apply_service_error(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            request.session["active_org_id"] = invitation.organization_id
            messages.success(request, f"You joined {invitation.organization}.")
            return redirect("home")
    return render(
        request,
        "cbo_portal/accept_invitation.html",
        {"invitation": invitation, "form": form, "errors": errors},
    )


@portal_view
@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """Set up (or remove) an authenticator app (TOTP)."""
    confirmed = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    if request.method == "POST" and request.POST.get("action") == "remove" and confirmed:
        TOTPDevice.objects.filter(user=request.user).delete()
        messages.success(request, "Two-factor sign-in is off.")
        return redirect("account")
    device = confirmed or TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name="Authenticator app", confirmed=False)
    error = None
    if request.method == "POST" and request.POST.get("action") == "confirm" and not device.confirmed:
        if device.verify_token(request.POST.get("code", "").strip().replace(" ", "")):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            messages.success(
                request, "Two-factor sign-in is on. You will be asked for a code when you sign in."
            )
            return redirect("account")
        error = "That code did not match. Enter the current 6-digit code shown by your app."
    qr_svg = None
    if not device.confirmed:
        import qrcode
        import qrcode.image.svg

        buffer = io.BytesIO()
        qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
        qr_svg = "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
    secret = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "cbo_portal/two_factor.html",
        {"device": device, "qr": qr_svg, "secret": secret, "error": error},
    )
