"""The caller's address, as the platform sees it."""

import ipaddress

from django.conf import settings


def client_ip(request):
    """REMOTE_ADDR, or the first X-Forwarded-For hop behind a trusted load balancer."""
    if settings.PICKY_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[0].strip()
        try:
            # The header is the sender's to write: only a real address is taken.
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR") or None
