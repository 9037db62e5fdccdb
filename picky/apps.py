from django.apps import AppConfig


class PickyConfig(AppConfig):
    name = "picky"
    verbose_name = "Platform"
