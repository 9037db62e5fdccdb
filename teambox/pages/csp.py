"""The Content-Security-Policy of the teambox pages: scripts only from our own static
files (no inline script, no eval), frames from any web address for the event-card
drawer (sandboxed by its iframe), everything else from Picky itself.

Inline styles stay allowed: event-card colours are set per card, after being checked
again on render (teambox/pages/cards.py)."""

PREFIX = "/teambox/"

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: http: https:",
        "media-src 'self' http: https:",
        "frame-src http: https:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class TeamboxContentSecurityPolicy:
    """Adds POLICY to every response under /teambox/ (404 pages included)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith(PREFIX):
            response.setdefault("Content-Security-Policy", POLICY)
        return response
