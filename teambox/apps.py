from django.apps import AppConfig


class TeamboxConfig(AppConfig):
    name = "teambox"
    verbose_name = "Teambox"
