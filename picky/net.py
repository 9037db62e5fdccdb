"""The caller's address, as the platform sees it."""

import ipaddress

from django.conf import settings


def client_ip(request):
    """REMOTE_ADDR, or the first X-Forwarded-For hop behind a trusted load balancer.

    A first hop that is not an IP address (the header is the sender's to write)
    is ignored rather than stored: the database's inet column would refuse it.
    """
    if settings.PICKY_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[0].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR") or None
