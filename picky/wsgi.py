"""The WSGI application: the site, and the connector URLs on a lean handler of their own."""

import os

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "picky.settings")
site = get_wsgi_application()


class WebhookHandler(WSGIHandler):
    """Serves the connector URLs (`/hooks/...`) without the site's middleware.

    A webhook needs no session, user, CSRF check, message storage, static files or
    frame options, and on the busiest URL of all that chain cost a tenth of the CPU
    of a request. URL resolving, request signals (database connections closed when
    stale) and Django's handling of uncaught errors are kept.
    """

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)


webhooks = WebhookHandler()
WEBHOOK_PATH_PREFIX = "/hooks/"


def application(environ, start_response):
    handler = webhooks if environ.get("PATH_INFO", "").startswith(WEBHOOK_PATH_PREFIX) else site
    return handler(environ, start_response)


# Imported once Django is set up above.
from connectors.queue import publish_events_in_batches  # noqa: E402

publish_events_in_batches()
