"""Referral pages, in the ``referrals`` URL namespace (``referrals:list`` …)."""

from django.urls import path

from referrals import views

app_name = "referrals"

urlpatterns = [
    path("worklist/", views.worklist, name="worklist"),
    path("referrals/", views.referral_list, name="list"),
    path("referrals/new/", views.referral_create, name="create"),
    path("referrals/new/services.json", views.offered_services, name="offered_services"),
    path("referrals/<int:pk>/", views.referral_detail, name="detail"),
    path("referrals/files/", views.import_create, name="import_create"),
    path("referrals/files/<int:pk>/", views.import_detail, name="import"),
    path("referrals/files/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("referrals/return-files/", views.return_files, name="return_files"),
    path("referrals/report/", views.report, name="report"),
    path("services/log/", views.log_service, name="log_service"),
    path("services/<int:pk>/", views.delivery_detail, name="delivery"),
    path("authorizations/", views.authorization_list, name="authorizations"),
    path("authorizations/<int:pk>/", views.authorization_detail, name="authorization"),
    path("members/", views.member_list, name="members"),
    path("members/<int:pk>/", views.member_detail, name="member"),
    path("members/<int:pk>/consents/<int:consent_pk>/form/", views.consent_document, name="consent_document"),
    path("members/rosters/", views.roster_list, name="rosters"),
    path("members/rosters/<int:pk>/", views.roster_detail, name="roster"),
    path("members/rosters/<int:pk>/progress/", views.roster_progress, name="roster_progress"),
]
