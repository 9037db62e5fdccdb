from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "actions"
    verbose_name = "Actions"

    def ready(self):
        # Importing the type modules registers every action type.
        from . import types  # noqa: F401
