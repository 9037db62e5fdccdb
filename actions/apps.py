from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "actions"
    verbose_name = "Actions"

    def ready(self):
        # Importing the type modules registers every action type; they import models,
        # so not before the apps are loaded.
        from . import types  # noqa: F401
