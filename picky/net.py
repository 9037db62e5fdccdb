"""The caller's address, as the platform sees it."""

from django.conf import settings


def client_ip(request):
    """REMOTE_ADDR, or the first X-Forwarded-For hop behind a trusted load balancer."""
    if settings.PICKY_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR") or None
