"""The caller's address, as the platform sees it."""

import ipaddress

from django.conf import settings


def client_ip(request):
    """The client's address: REMOTE_ADDR, or the one the trusted proxy nearest the client saw.

    Each proxy appends the address it saw to X-Forwarded-For, and whatever lies left of
    the entry of the trusted proxy nearest the client was written by the client. So it is read
    from the right: starting with REMOTE_ADDR, while the current address is a trusted
    proxy (one of the first PICKY_TRUSTED_PROXY_HOPS, or inside PICKY_TRUSTED_PROXIES),
    the address it saw (the next entry to the left) is taken. A malformed entry ends the
    walk at the proxy that wrote it. Used by the API token IP lock and the event source IP.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    hops, networks = settings.PICKY_TRUSTED_PROXY_HOPS, settings.PICKY_TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR") if hops or networks else None
    if not forwarded:
        return remote
    address, trusted = None, 0  # the last address a trusted proxy saw, and how many
    for entry in reversed(forwarded.split(",")):
        if trusted >= hops:
            proxy = address if trusted else parsed_address(remote or "")
            if proxy is None or not any(proxy in network for network in networks):
                break
        seen = parsed_address(entry)
        if seen is None:
            break
        address, trusted = seen, trusted + 1
    return str(address) if trusted else remote


def parsed_address(text):
    """The IP address in an X-Forwarded-For entry (a port and a zone allowed), or None."""
    host = text.strip()
    if host.startswith("["):  # [IPv6]:port
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:  # IPv4:port
        host = host.partition(":")[0]
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return None
    return (address.version == 6 and address.ipv4_mapped) or address
