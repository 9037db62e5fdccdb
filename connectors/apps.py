from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors"

    def ready(self):
        # teambox's registry of contact panel sections (connectors adds the contact's runs).
        from teambox.pages.contact_panel import register_panel_section

        # The receivers import the models, which Django loads only once the apps are ready.
        from . import signals  # noqa: F401

        # The section reads Run, a model too.
        from .contact_runs import recent_runs_section

        register_panel_section(recent_runs_section)

        # Data-storage rows in templates (storage.<table>.<row>.<field>), which the engine
        # loads only for connectors that name them; crm's models load with the apps too.
        from crm.records.namespace import storage_namespace, storage_rows

        # The engine's modules read the models too.
        from .engine.namespaces import register_namespace

        register_namespace("storage", storage_rows, storage_namespace)
