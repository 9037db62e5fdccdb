from django.apps import AppConfig


class PickyConfig(AppConfig):
    name = "picky"
    verbose_name = "Platform"

    def ready(self):
        # Its receivers bump globals_revision; they import the models, loaded by now.
        from . import global_variables  # noqa: F401
