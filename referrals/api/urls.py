"""Referrals API routes under /api/v1/."""

from rest_framework.routers import DefaultRouter

from referrals.api import views

router = DefaultRouter()
router.include_root_view = False  # the portal's router already serves /api/v1/
router.register("members", views.MemberViewSet, basename="member")
router.register("enrollments", views.EnrollmentViewSet, basename="enrollment")
router.register("rosters", views.RosterViewSet, basename="roster")
router.register("member-corrections", views.MemberCorrectionViewSet, basename="member-correction")
router.register("referrals", views.ReferralViewSet, basename="referral")
router.register("authorizations", views.AuthorizationViewSet, basename="authorization")
router.register("service-deliveries", views.ServiceDeliveryViewSet, basename="service-delivery")
router.register("outreach-attempts", views.OutreachAttemptViewSet, basename="outreach-attempt")
router.register("referral-imports", views.ReferralImportViewSet, basename="referral-import")

urlpatterns = router.urls
