import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "picky.settings")
application = get_wsgi_application()

# Imported once Django is set up by the line above.
from connectors.services import publish_events_in_batches  # noqa: E402

publish_events_in_batches()
