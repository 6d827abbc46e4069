from rest_framework.routers import DefaultRouter

from cbo_portal.api import views

router = DefaultRouter()
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("counties", views.CountyViewSet, basename="county")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("invitations", views.InvitationViewSet, basename="invitation")
router.register("documents", views.DocumentViewSet, basename="document")
router.register("audit-events", views.AuditEventViewSet, basename="auditevent")
router.register("tokens", views.ApiTokenViewSet, basename="apitoken")

urlpatterns = router.urls
