"""The REST API's common ground (token scheme, base view), its root and the project
endpoint."""

from functools import cache

from django.urls import reverse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Project

NOT_AUTHENTICATED = (
    "No API token: send it in the header 'Authorization: Bearer <api token>' "
    "(a project owner or admin adds one in the admin under API tokens)."
)


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema (and the docs page's Authorize button) about our tokens."""

    target_class = "picky.api_auth.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer"
        )


class ProjectScopedMixin:
    """Base of every API view: JSON only, and everything is the token's project."""

    renderer_classes = [JSONRenderer]

    @property
    def project(self):
        return self.request.user.project

    def permission_denied(self, request, message=None, code=None):
        if request.authenticators and not request.successful_authenticator:
            raise exceptions.NotAuthenticated(NOT_AUTHENTICATED)
        super().permission_denied(request, message=message, code=code)


class ProjectSerializer(serializers.ModelSerializer):
    has_chatgpt_api_key = serializers.SerializerMethodField(
        help_text="Whether a ChatGPT API key is set (the key itself is never shown)."
    )

    class Meta:
        model = Project
        fields = [
            "slug",
            "name",
            "time_zone",
            "retention_days",
            "alert_email",
            "http_rate_limit_per_minute",
            "api_rate_limit_per_minute",
            "chatgpt_base_url",
            "chatgpt_api_key",
            "has_chatgpt_api_key",
            "created_at",
        ]
        # The API's own limit is set in the admin, not by the tokens it limits.
        read_only_fields = ["slug", "api_rate_limit_per_minute", "created_at"]
        extra_kwargs = {
            "retention_days": {
                "min_value": 1,
                "help_text": "Events and runs older than this many days are pruned.",
            },
            "http_rate_limit_per_minute": {
                "min_value": 1,
                "help_text": "Outbound HTTP requests the project's actions may make per minute.",
            },
            "time_zone": {"help_text": "An IANA time zone name, e.g. Asia/Kolkata."},
            "alert_email": {"help_text": "Where failure alerts go when an action names none."},
            "chatgpt_api_key": {"write_only": True},
        }

    def get_has_chatgpt_api_key(self, project) -> bool:
        return bool(project.chatgpt_api_key)


@extend_schema(tags=["project"])
class ProjectView(ProjectScopedMixin, generics.RetrieveUpdateAPIView):
    """The settings of the API token's project."""

    serializer_class = ProjectSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        return self.project


@cache
def api_endpoints():
    """Each path of the OpenAPI schema with what its methods do, read once per process:
    the list follows the URL configuration by itself."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return [
        (
            path,
            {
                method.upper(): operation.get("summary") or operation.get("description", "")
                for method, operation in operations.items()
            },
        )
        for path, operations in paths.items()
    ]


@extend_schema(exclude=True)
class ApiRootView(APIView):
    """GET /api/v1/: the endpoints, the docs and how to authenticate. No token needed: it
    shows nothing of any project."""

    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    def get(self, request):
        site = request.build_absolute_uri("/").rstrip("/")
        return Response(
            {
                "name": "Picky API",
                "version": "v1",
                "authentication": (
                    "Send the header 'Authorization: Bearer <api token>'; a project owner "
                    "or admin adds a token in the admin under API tokens (or with "
                    "`manage.py create_api_token --project <slug> --name <name>`)."
                ),
                "docs": site + reverse("api-docs"),
                "schema": site + reverse("schema"),
                "endpoints": [
                    {"url": site + path, "methods": methods} for path, methods in api_endpoints()
                ],
            }
        )
