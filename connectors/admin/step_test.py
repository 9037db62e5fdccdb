"""Test this step: the step page runs its connector's draft on the sample payload up to
and including the step (a simulation: nothing is sent or kept) and shows the timeline of
that step, each action's inputs and outputs open, where the page shows the step."""

from django import forms
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from .. import engine
from ..models import Step
from .display import pretty_json, timeline_rows

# The fetch of the step page asks for the result alone, to show it in place.
FRAGMENT_HEADER = "X-Picky-Fragment"


class StepTestAdminMixin:
    """For StepAdmin: the "Test this step" button and the page (or fragment) it answers."""

    @property
    def media(self):
        return super().media + forms.Media(js=["picky/step-test.js"])

    def get_urls(self):
        return [
            path(
                "<int:object_id>/test/",
                self.admin_site.admin_view(require_POST(self.test_view)),
                name="connectors_step_test",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "test_step_url": reverse("admin:connectors_step_test", args=[object_id]),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def test_view(self, request, object_id):
        step = self.scoped_object(request, object_id)
        connector = step.connector
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": step,
            "connector": connector,
            "title": f"Test {step}",
            **step_test(step),
        }
        template = (
            "admin/connectors/step/test_result.html"
            if request.headers.get(FRAGMENT_HEADER)
            else "admin/connectors/step/test.html"
        )
        return TemplateResponse(request, template, context)


def step_test(step):
    """The context of a test of `step` on its connector's sample: the result, this step's
    timeline rows and the earlier steps' ones."""
    connector = step.connector
    if connector.sample_payload is None:
        return {"no_sample": True}
    steps = list(Step.objects.filter(connector=connector).values_list("pk", flat=True))
    index = steps.index(step.pk)
    simulation = engine.simulate(connector, connector.sample_payload, through_step=index)
    rows = timeline_rows(simulation.logs)
    return {
        "simulation": simulation,
        "step_rows": [row for row in rows if row["step_position"] == index],
        "earlier_rows": [row for row in rows if row["step_position"] < index],
        "vars_json": pretty_json(simulation.context.get("vars", {})),
    }
