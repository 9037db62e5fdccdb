"""What a run's templates read: the namespaces of the context (event, meta, vars, contact,
counters, globals, storage, now) and the run's contact, mapped by the connector's field mapping
(a message's sender when a message started the run and the connector maps nothing)."""

from actions.base import ActionContext, ActionError
from actions.registry import get_type

from ..models import Counter, Run
from ..services import context_namespaces
from ..triggers import sender_mapping
from .stops import RunStopped

# The action type whose code maps a connector's fields to the run's contact.
FIELD_MAPPING_TYPE = "map_contact"


def run_context(run, event, definition, deadline, simulating=False, sends_safe_requests=False):
    """The context of `run` going on from its saved vars: its contact (the one an earlier
    attempt mapped, or the field mapping's) and, when a template reads them, the
    project's counters and what it names of a registered namespace (data-storage rows).
    `sends_safe_requests`: see ActionContext."""
    connector = event.connector
    project = connector.project
    saved = run.context or {}
    data = context_namespaces(event, run_id=run.pk, saved_vars=saved.get("vars"))
    ctx = ActionContext(
        project=project,
        data=data,
        connector=connector,
        run=None if simulating else run,
        dry_run=simulating,
        deadline=deadline,
        sends_safe_requests=simulating and sends_safe_requests,
    )
    mapping = connector.field_mapping or sender_mapping(event)
    if run.contact_id and not simulating:
        get_type(FIELD_MAPPING_TYPE).restore_contact(ctx, run.contact)
    elif mapping:
        map_fields(ctx, mapping)
    if definition.reads_counters:
        data["counters"] = dict(
            Counter.objects.filter(project_id=project.pk).values_list("name", "value")
        )
    for namespace, wanted in definition.namespaces:
        data[namespace.name] = namespace.load(project, wanted)
    return ctx


def map_fields(ctx, mapping):
    """Make the contact the connector's field mapping names the run's, through the
    map_contact action type (the mapping is its config): the engine knows no contact. The
    run fails when the mapped values are not a contact's."""
    mapping_type = get_type(FIELD_MAPPING_TYPE)
    try:
        mapping_type.map_fields(ctx, mapping_type.render(ctx, mapping))
    except ActionError as exc:
        raise RunStopped(Run.Status.FAILED, f"Field mapping: {exc.message}") from exc


def saved_context(ctx):
    """What a run keeps to resume: its vars (not the payload, which is the event's)."""
    return {"vars": ctx.data["vars"]} if ctx else {}
