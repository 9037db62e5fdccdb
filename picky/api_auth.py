"""Bearer-token authentication for the REST API, scoped to the token's project, and the
project's per-minute limit of API requests."""

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.throttling import BaseThrottle

from .models import ApiToken, hash_api_token
from .net import client_ip
from .ratelimit import count_api_request


class TokenUser:
    """The API caller: the project its token belongs to."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, token):
        self.token = token
        self.project = token.project

    def __str__(self):
        return f"api-token:{self.token.name}"


class ApiTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Authorization header must be 'Bearer <api token>'."
            )
        return token_user(parts[1].decode("latin-1"), request)

    def authenticate_header(self, request):
        return "Bearer"


class IpNotAllowed(exceptions.AuthenticationFailed):
    """A valid token used from an address it is not tied to."""


def token_user(raw, request):
    """(TokenUser, token) of the raw API token `raw`, its use recorded; AuthenticationFailed
    (IpNotAllowed from an address the token is not tied to) otherwise."""
    token = (
        ApiToken.objects.select_related("project")
        .filter(token_hash=hash_api_token(raw), revoked=False)
        .first()
    )
    if token is None:
        raise exceptions.AuthenticationFailed("Unknown or revoked API token.")
    if token.allowed_ip and client_ip(request) != token.allowed_ip:
        raise IpNotAllowed("This API token is not allowed from your IP.")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return TokenUser(token), token


class ApiRateLimited(exceptions.Throttled):
    """429 with Retry-After (DRF's exception handler sets it from `wait`)."""

    def __init__(self, refusal):
        super().__init__(detail=refusal.message)  # the message already says when to retry
        self.wait = refusal.retry_after


class ProjectRateThrottle(BaseThrottle):
    """The project's API requests per minute (picky/ratelimit.py), counted once the token
    is known; a request over the limit is refused before its view does anything.

    Requests without a project (no token: refused by the permission check anyway, or the
    schema and docs pages) are not counted."""

    def allow_request(self, request, view):
        project = getattr(request.user, "project", None)
        if project is None:
            return True
        refusal = count_api_request(project)
        if refusal is not None:
            raise ApiRateLimited(refusal)
        return True
