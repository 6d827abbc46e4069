from rest_framework.routers import DefaultRouter

from contracts.api import views

router = DefaultRouter()
router.include_root_view = False  # the portal's router already serves /api/v1/
router.register("catalog", views.CatalogViewSet, basename="catalog-entry")
router.register("contracts", views.ContractViewSet, basename="contract")
router.register("rate-lines", views.RateLineViewSet, basename="rate-line")
router.register("contract-amendments", views.AmendmentViewSet, basename="contract-amendment")

urlpatterns = router.urls
