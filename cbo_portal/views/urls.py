from django.contrib.auth import views as auth_views
from django.urls import path

from cbo_portal.views import auth, pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("login/", auth.PortalLoginView.as_view(), name="login"),
    path("login/verify/", auth.verify_second_factor, name="verify_second_factor"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth.PortalPasswordChangeView.as_view(), name="password_change"),
    # Our templates carry a ``portal_`` prefix: django.contrib.admin (installed first) ships
    # ``registration/password_*.html`` of its own, which would otherwise win.
    path(
        "password/reset/",
        auth_views.PasswordResetView.as_view(
            template_name="registration/portal_password_reset_form.html",
            email_template_name="registration/portal_password_reset_email.txt",
            subject_template_name="registration/portal_password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            template_name="registration/portal_password_reset_done.html"
        ),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="registration/portal_password_reset_confirm.html"
        ),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="registration/portal_password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("register/", auth.register, name="register"),
    path("invitations/<str:token>/", auth.accept_invitation, name="accept_invitation"),
    path("switch/", pages.switch_organization, name="switch_organization"),
    path("onboarding/", pages.onboarding_page, name="onboarding"),
    path("documents/<int:pk>/download/", pages.document_download, name="document_download"),
    path("team/", pages.team, name="team"),
    path("reviews/", pages.review_queue, name="review_queue"),
    path("reviews/<int:pk>/", pages.review_detail, name="review_detail"),
    path("audit/", pages.audit_log, name="audit_log"),
    path("account/", pages.account, name="account"),
    path("account/two-factor/", auth.two_factor, name="two_factor"),
]
