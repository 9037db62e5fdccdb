from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"

    def ready(self):
        # Django's app loading: receivers import models, which exist only once apps are ready.
        from .records import receivers  # noqa: F401  (connects the new-project receiver)
