"""The REST API (/api/v1/), the Push API (/api/v2/push), their OpenAPI schema and docs page."""

from django.http import JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from connectors.api import ActionTypeListView, ConnectorViewSet, EventViewSet
from teambox.api_push import PushView

from .api import ApiRootView, ProjectView


def unknown_endpoint(request, rest):
    hint = " (API paths have no trailing slash)" if rest.endswith("/") else ""
    return JsonResponse(
        {"detail": f"No API endpoint at {request.path}{hint}; see /api/docs/."}, status=404
    )


router = SimpleRouter(trailing_slash=False)
router.register("connectors", ConnectorViewSet, basename="connector")
router.register("events", EventViewSet, basename="event")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("v1/", ApiRootView.as_view(), name="api-root"),
    path("v1", ApiRootView.as_view()),
    path("v1/project", ProjectView.as_view(), name="project"),
    path("v1/action-types", ActionTypeListView.as_view(), name="action-types"),
    path("v1/", include(router.urls)),
    re_path(r"^v1/(?P<rest>.*)$", unknown_endpoint),
    path("v2/push", PushView.as_view(), name="push-api"),
]
