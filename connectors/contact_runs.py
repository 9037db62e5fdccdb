"""The contact's recent connector runs, as a section of the teambox's contact panel:
teambox imports no connector module, so connectors adds the section (apps.py)."""

from django.urls import reverse

from teambox.pages.contact_panel import PanelItem, PanelSection

from .models import Run

RECENT_RUNS = 5


def recent_runs_section(contact, user):
    """The contact's latest runs: connector, status, when, and (for users who may open
    the admin) a link to the run's page."""
    runs = (
        Run.objects.filter(project_id=contact.project_id, contact=contact)
        .select_related("connector")
        .order_by("-created_at", "-id")[:RECENT_RUNS]
    )
    return PanelSection(
        title="Recent connector runs",
        items=[
            PanelItem(
                label=run.connector.name,
                url=reverse("admin:connectors_run_change", args=[run.pk]) if user.is_staff else "",
                status=run.status,
                status_label=run.get_status_display(),
                at=run.created_at,
                detail=run.error,
            )
            for run in runs
        ],
        empty_text="No connector has run for this contact yet.",
    )
