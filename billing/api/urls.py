"""The billing API's routes (``billing/api/views.py``)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from billing.api import views

router = DefaultRouter()
router.include_root_view = False
router.register("claims", views.ClaimViewSet, basename="claim")
router.register("batches", views.BatchViewSet, basename="batch")
router.register("acknowledgements", views.AcknowledgementViewSet, basename="acknowledgement")
router.register("remittances", views.RemittanceViewSet, basename="remittance")
router.register("denials", views.DenialViewSet, basename="denial")

urlpatterns = [
    *router.urls,
    path("reports/aging/", views.AgingReportView.as_view(), name="report-aging"),
    path("reports/billed-vs-paid/", views.BilledVsPaidReportView.as_view(), name="report-billed-vs-paid"),
    path("reports/denial-rate/", views.DenialRateReportView.as_view(), name="report-denial-rate"),
]
