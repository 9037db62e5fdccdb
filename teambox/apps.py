from django.apps import AppConfig


class TeamboxConfig(AppConfig):
    name = "teambox"
    verbose_name = "Teambox"

    def ready(self):
        # The contact panel's section of the contact's CRM records (the pages read models,
        # which Django loads only once the apps are ready).
        from .pages import contact_panel, records

        contact_panel.register_panel_section(records.linked_records_section)
