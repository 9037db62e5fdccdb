from django.apps import AppConfig


class PickyConfig(AppConfig):
    name = "picky"
    verbose_name = "Platform"

    def ready(self):
        from . import global_variables  # noqa: F401 (its receivers bump globals_revision)
