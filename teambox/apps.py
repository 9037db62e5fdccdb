from django.apps import AppConfig


class TeamboxConfig(AppConfig):
    name = "teambox"
    verbose_name = "Teambox"

    def ready(self):
        # The contact panel's section of the contact's CRM records (it reads models, which
        # Django loads only once the apps are ready).
        from .pages.contact_panel import register_panel_section
        from .pages.records import linked_records_section

        register_panel_section(linked_records_section)
