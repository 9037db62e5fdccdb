from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        # Connects the receivers of teambox's signals.
        from . import receivers  # noqa: F401
