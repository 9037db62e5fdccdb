from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"

    def ready(self):
        from .records import receivers  # noqa: F401  (connects the new-project receiver)
