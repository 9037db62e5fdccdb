from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors"

    def ready(self):
        # The receivers import the models, which Django loads only once the apps are ready.
        from . import signals  # noqa: F401
