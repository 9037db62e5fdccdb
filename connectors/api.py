"""REST API of connectors, their events and runs, import/export and the action types."""

import re

from django import forms
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from actions.base import Effect
from actions.registry import all_types
from picky.api import ProjectScopedMixin

from . import engine
from .models import Connector, Event, Run, RunLog
from .transfer import (
    FORMAT,
    ConnectorImportError,
    export_connector,
    field_mapping_errors,
    format_error,
    import_connector,
    name_taken_message,
)
from .versions import publish_connector

CONNECTOR_JSON_EXAMPLE = {
    "format": FORMAT,
    "name": "Website leads",
    "enabled": True,
    "field_mapping": {
        "number": "{{ event.phone }}",
        "name": "{{ event.name }}",
        "email": "{{ event.email }}",
        "attributes": {"state": "{{ event.state }}"},
    },
    "steps": [
        {
            "name": "Thank the lead",
            "delay": None,
            "filters": [[{"field": "{{ event.state }}", "op": "equals", "value": "Kerala"}]],
            "iterator": None,
            "actions": [
                {
                    "type": "send_email",
                    "config": {
                        "to": ["{{ event.email }}"],
                        "subject": "Thank you",
                        "body": "Thank you, {{ event.name }}",
                    },
                }
            ],
        }
    ],
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PathErrorSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="JSON path of the problem, e.g. steps[0].actions[1].")
    message = serializers.CharField()


class ImportErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = PathErrorSerializer(many=True)


class ConnectorSerializer(serializers.ModelSerializer):
    url = serializers.CharField(read_only=True, help_text="The URL that receives webhooks.")

    class Meta:
        model = Connector
        fields = [
            "id",
            "name",
            "description",
            "enabled",
            "token",
            "url",
            "sample_payload",
            "mapped_paths",
            "structure_changed",
            "field_mapping",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "token",
            "sample_payload",
            "mapped_paths",
            "structure_changed",
            "created_at",
            "updated_at",
        ]
        # The project-wide unique name is checked in validate_name: the project
        # is not a field of this serializer.
        validators = []
        extra_kwargs = {
            "field_mapping": {
                "help_text": (
                    "Contact fields from the payload: number, name, email (templates) "
                    "and attributes (name: template)."
                )
            }
        }

    def validate_name(self, value):
        name = value.strip()
        if not name:
            raise serializers.ValidationError("The name cannot be blank.")
        taken = Connector.objects.filter(project=self.context["project"], name=name)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(name_taken_message(name) + ".")
        return name

    def validate_field_mapping(self, value):
        errors = field_mapping_errors(value)
        if errors:
            raise serializers.ValidationError([format_error(*error) for error in errors])
        return value


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = [
            "id",
            "connector",
            "status",
            "error",
            "method",
            "source_ip",
            "received_at",
            "hop_count",
        ]


class RunLogSerializer(serializers.ModelSerializer):
    step_name = serializers.SerializerMethodField()
    action_name = serializers.SerializerMethodField()

    class Meta:
        model = RunLog
        fields = [
            "id",
            "kind",
            "status",
            "step",
            "step_position",
            "step_name",
            "action",
            "action_position",
            "action_type",
            "action_name",
            "iteration",
            "inputs",
            "outputs",
            "error",
            "duration_ms",
            "created_at",
        ]

    @extend_schema_field(OpenApiTypes.STR)
    def get_step_name(self, log):
        return str(log.step) if log.step is not None else ""

    @extend_schema_field(OpenApiTypes.STR)
    def get_action_name(self, log):
        return str(log.action) if log.action is not None else ""


class RunSerializer(serializers.ModelSerializer):
    logs = RunLogSerializer(many=True, read_only=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "status",
            "replay_of",
            "resume_of",
            "contact",
            "error",
            "next_step",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
            "logs",
        ]


class EventDetailSerializer(EventSerializer):
    runs = RunSerializer(many=True, read_only=True)

    class Meta(EventSerializer.Meta):
        fields = [*EventSerializer.Meta.fields, "headers", "payload", "raw_body", "runs"]


REPLAY_FROM = {
    "start": "run every step again, from the first: outside effects (messages, e-mails, HTTP "
    "calls) are repeated",
    "failed_step": "resume the event's latest run (failed or stopped) at the step it ended in, "
    "with its vars and contact: what it did is not done again",
}


class ReplayRequestSerializer(serializers.Serializer):
    from_ = serializers.ChoiceField(
        choices=list(REPLAY_FROM),
        default="start",
        help_text="; ".join(f"{key}: {text}" for key, text in REPLAY_FROM.items()) + ".",
        error_messages={
            "invalid_choice": 'Use "start" (run every step again) or "failed_step" (resume the '
            "latest run where it ended), not {input!r}."
        },
    )

    def get_fields(self):
        # "from" is a Python keyword: the field is declared as from_.
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class ReplaySerializer(serializers.Serializer):
    run = serializers.IntegerField(help_text="The id of the new run.")
    event = serializers.IntegerField()
    status = serializers.CharField()
    from_ = serializers.CharField(help_text="start or failed_step, as asked.")
    resumed_run = serializers.IntegerField(
        allow_null=True, help_text="The run resumed (from failed_step), else null."
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class ProjectObjectMixin(ProjectScopedMixin):
    """Objects of the token's project only; another project's ids are simply not found."""

    object_label = "object"
    lookup_value_regex = r"\d+"

    def get_object(self):
        queryset = self.filter_queryset(self.get_queryset())
        found = queryset.filter(pk=self.kwargs["pk"]).first()
        if found is None:
            raise exceptions.NotFound(
                f"No {self.object_label} with id {self.kwargs['pk']} in this project."
            )
        self.check_object_permissions(self.request, found)
        return found


# The admin's builder edits a draft that runs only once published; the API has no draft.
PUBLISHED_ON_SAVE = (
    "The connector is published when saved: its steps as they stand in the builder become "
    "its live version, which new runs start on."
)


def api_note(request, what):
    """A version's note naming the API token that published it (`what`: Saved, Imported)."""
    return f"{what} through the API ({request.user})"


@extend_schema_view(
    list=extend_schema(summary="List the project's connectors"),
    create=extend_schema(
        summary="Create a connector",
        description="The new connector is published at once (its version 1).",
    ),
    retrieve=extend_schema(summary="Read a connector"),
    update=extend_schema(
        summary="Replace a connector's settings",
        description=PUBLISHED_ON_SAVE,
    ),
    partial_update=extend_schema(
        summary="Change some of a connector's settings",
        description=PUBLISHED_ON_SAVE,
    ),
    destroy=extend_schema(summary="Delete a connector with its events and runs"),
)
@extend_schema(tags=["connectors"])
class ConnectorViewSet(ProjectObjectMixin, viewsets.ModelViewSet):
    serializer_class = ConnectorSerializer
    object_label = "connector"

    def get_queryset(self):
        return Connector.objects.filter(project=self.project).order_by("name", "id")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "project": self.project}

    def perform_create(self, serializer):
        self.save_unique(serializer, project=self.project)

    def perform_update(self, serializer):
        self.save_unique(serializer)

    def save_unique(self, serializer, **extra):
        # validate_name checked the name; this catches a concurrent request that took it.
        try:
            with transaction.atomic():
                publish_connector(serializer.save(**extra), note=api_note(self.request, "Saved"))
        except IntegrityError as exc:
            name = serializer.validated_data.get("name", "")
            raise serializers.ValidationError({"name": [name_taken_message(name) + "."]}) from exc

    @extend_schema(
        summary="Import a connector from picky.connector/v1 JSON",
        request=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter(
                "name", str, description="Import under this name instead of the document's."
            )
        ],
        responses={201: ConnectorSerializer, 400: ImportErrorSerializer},
        examples=[
            OpenApiExample("Connector JSON", value=CONNECTOR_JSON_EXAMPLE, request_only=True)
        ],
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_json(self, request):
        try:
            connector = import_connector(
                self.project,
                request.data,
                name=request.query_params.get("name"),
                note=api_note(request, "Imported"),
            )
        except ConnectorImportError as exc:
            count = len(exc.errors)
            body = ImportErrorSerializer(
                {
                    "detail": f"The connector JSON has {count} problem{'s' * (count != 1)}.",
                    "errors": [{"path": path, "message": msg} for path, msg in exc.errors],
                }
            )
            return Response(body.data, status=status.HTTP_400_BAD_REQUEST)
        return Response(self.get_serializer(connector).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Export a connector as picky.connector/v1 JSON",
        responses={200: OpenApiTypes.OBJECT, 404: ErrorSerializer},
        examples=[
            OpenApiExample("Connector JSON", value=CONNECTOR_JSON_EXAMPLE, response_only=True)
        ],
    )
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        return Response(export_connector(self.get_object()))

    @extend_schema(
        summary="A connector's events, newest first",
        parameters=[
            OpenApiParameter(
                "status", str, enum=Event.Status.values, description="Only events in this status."
            )
        ],
        responses={200: EventSerializer(many=True), 404: ErrorSerializer},
    )
    @action(detail=True, methods=["get"])
    def events(self, request, pk=None):
        connector = self.get_object()
        events = Event.objects.filter(connector=connector).order_by("-received_at", "-id")
        wanted = request.query_params.get("status")
        if wanted is not None:
            if wanted not in Event.Status.values:
                raise serializers.ValidationError(
                    {
                        "status": [
                            f"{wanted!r} is not an event status; use one of "
                            f"{', '.join(Event.Status.values)}."
                        ]
                    }
                )
            events = events.filter(status=wanted)
        page = self.paginate_queryset(events)
        return self.get_paginated_response(EventSerializer(page, many=True).data)


@extend_schema(tags=["events"])
class EventViewSet(ProjectObjectMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = EventDetailSerializer
    object_label = "event"

    def get_queryset(self):
        events = Event.objects.filter(project=self.project)
        if self.action != "retrieve":
            return events
        logs = RunLog.objects.select_related("step", "action").order_by("id")
        runs = Run.objects.order_by("created_at", "id").prefetch_related(
            Prefetch("logs", queryset=logs)
        )
        return events.prefetch_related(Prefetch("runs", queryset=runs))

    @extend_schema(
        summary="An event: its payload, status and runs with their step and action logs",
        responses={200: EventDetailSerializer, 404: ErrorSerializer},
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Run an event again from the start, or resume its latest run",
        description='{"from": "start"} (the default, also with no body) runs every step again; '
        '{"from": "failed_step"} resumes the latest run, failed or stopped, where it ended.',
        request=ReplayRequestSerializer,
        responses={
            202: ReplaySerializer,
            400: OpenApiTypes.OBJECT,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        event = self.get_object()
        asked = ReplayRequestSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        start = asked.validated_data["from"] == "start"
        if event.status == Event.Status.REJECTED:
            raise Conflict(
                f"Event {event.pk} was rejected ({event.error}); it has no payload to replay."
            )
        resumed = None if start else engine.latest_run(event.pk)
        try:
            if start:
                run = engine.replay_event(event)
            elif resumed is None:
                raise engine.ReplayRefused(f"Event {event.pk} has no run to resume yet.")
            else:
                run = engine.resume_run(resumed)
        except engine.ReplayRefused as refused:
            raise Conflict(str(refused)) from refused
        body = ReplaySerializer(
            {
                "run": run.pk,
                "event": event.pk,
                "status": run.status,
                "from": asked.validated_data["from"],
                "resumed_run": resumed.pk if resumed else None,
            }
        )
        return Response(body.data, status=status.HTTP_202_ACCEPTED)


class ConfigFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    type = serializers.CharField(
        help_text="string, integer, number, boolean, email, url, json, choice, "
        "multiple_choice, date, datetime, or the name of a special field."
    )
    required = serializers.BooleanField()
    help = serializers.CharField()
    choices = serializers.ListField(
        child=inline_serializer(
            "ConfigFieldChoice",
            {"value": serializers.CharField(), "label": serializers.CharField()},
        ),
        required=False,
        help_text="The allowed values of a choice field.",
    )


class ActionTypeSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    category = serializers.CharField()
    description = serializers.CharField()
    effect = serializers.ChoiceField(
        choices=[effect.value for effect in Effect],
        help_text="What the type's effect touches: none; database (rows of one contact or "
        "run); shared_row (a row many runs update, a counter); outside (a message, an "
        "e-mail, an HTTP call: described, not performed, in simulations, and never "
        "performed twice for the same run and action).",
    )
    fields = ConfigFieldSerializer(many=True, help_text="The config keys the type accepts.")


# Most specific first: EmailField is a CharField, FloatField an IntegerField, ...
FORM_FIELD_TYPES = (
    (forms.BooleanField, "boolean"),
    (forms.NullBooleanField, "boolean"),
    (forms.FloatField, "number"),
    (forms.DecimalField, "number"),
    (forms.IntegerField, "integer"),
    (forms.EmailField, "email"),
    (forms.URLField, "url"),
    (forms.JSONField, "json"),
    (forms.MultipleChoiceField, "multiple_choice"),
    (forms.ChoiceField, "choice"),
    (forms.DateTimeField, "datetime"),
    (forms.DateField, "date"),
    (forms.CharField, "string"),
)
CAMEL_WORD = re.compile(r"(?<!^)(?=[A-Z])")


def form_field_type(field):
    for field_class, name in FORM_FIELD_TYPES:
        if isinstance(field, field_class):
            return name
    # A type's own field class (e.g. EmailListField) is named after its class.
    return CAMEL_WORD.sub("_", type(field).__name__.removesuffix("Field")).lower()


def describe_config_field(name, field):
    described = {
        "name": name,
        "label": str(field.label or name.replace("_", " ").capitalize()),
        "type": form_field_type(field),
        "required": field.required,
        "help": str(field.help_text or ""),
    }
    if isinstance(field, forms.ChoiceField):
        described["choices"] = [
            {"value": str(value), "label": str(label)}
            for value, label in flat_choices(field.choices)
        ]
    return described


def flat_choices(choices):
    for value, label in choices:
        if isinstance(label, (list, tuple)):
            yield from flat_choices(label)
        else:
            yield value, label


def describe_action_type(action_type):
    form = action_type.form_class()
    return {
        "key": action_type.key,
        "label": action_type.label,
        "category": action_type.category,
        "description": action_type.description,
        "effect": action_type.effect.value,
        "fields": [describe_config_field(name, field) for name, field in form.fields.items()],
    }


@extend_schema(tags=["action types"])
class ActionTypeListView(ProjectScopedMixin, generics.ListAPIView):
    """Every action type a step can use, with the config fields its form accepts."""

    serializer_class = ActionTypeSerializer
    pagination_class = None

    @extend_schema(summary="The action types and their config fields")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        types = sorted(all_types().values(), key=lambda t: (t.category, t.label, t.key))
        return [describe_action_type(action_type) for action_type in types]
