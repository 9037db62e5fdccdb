"""Connector import and export as "picky.connector/v1" JSON (DESIGN.md "Connector JSON").

The document holds the connector's name, enabled flag, trigger, field mapping and
its steps (name, delay, filters, iterator and ordered actions). An action carries
`name` and `enabled` only when they differ from the defaults ("" and true); a
connector carries `description` only when it has one, and `trigger` only when
something besides its URL starts it: {"type": "inbound_message", "channel": a
channel's name, or null for any channel of the project}, {"type": "record_created"
(record_updated, record_deleted), "module": a module's name} or {"type": "macro_button",
"module": a module's name, "button": its macro button's name}. Import validates the
whole document before writing anything and reports every problem at once,
each with its JSON path (`steps[1].actions[0].config.url`).
"""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import IntegrityError, transaction
from django.db.models import Prefetch

from actions.models import Action
from actions.registry import get_type
from crm.records.macros import find_macro_button, macro_buttons_of
from crm.records.services import find_module, unknown_module_message
from picky.json_input import unstorable_character
from picky.templating import TemplateSyntaxError, compile_path, template_errors
from picky.wording import listed
from teambox import group_members
from teambox.services import unknown_channel_message

from .delays import delay_errors
from .filters import filter_errors
from .mail_fields import mail_fields_errors
from .models import Connector, Step

FORMAT = "picky.connector/v1"
NAME_MAX_LENGTH = Connector._meta.get_field("name").max_length
MAPPED_CONTACT_FIELDS = ("number", "name", "email")

CONNECTOR_KEYS = (
    "format", "name", "description", "enabled", "trigger", "field_mapping", "mail_fields", "steps",
)  # fmt: skip
TRIGGER_KEYS = ("type", "channel", "module", "button", "group")
STEP_KEYS = ("name", "delay", "filters", "iterator", "actions")
ACTION_KEYS = ("type", "config", "name", "enabled")
ITERATOR_KEYS = ("path", "max")


class ConnectorImportError(Exception):
    """The document cannot be imported; `errors` lists every (json_path, message)."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.messages))

    @property
    def messages(self):
        return [format_error(path, message) for path, message in self.errors]


def format_error(path, message):
    return f"{path}: {message}" if path else message


def export_connector(connector, steps=None):
    """The connector as a "picky.connector/v1" document (a dict ready for json.dumps), with
    its published version's steps (a connector never published: its steps as they stand),
    or `steps`, each with its actions prefetched in order."""
    if steps is None:
        # version_id None (never published) selects the draft's steps.
        steps = (
            Step.every.filter(connector_id=connector.pk, version_id=connector.live_version_id)
            .order_by("position", "id")
            .prefetch_related(Prefetch("actions", queryset=Action.every.order_by("position", "id")))
        )
    document = {"format": FORMAT, "name": connector.name}
    if connector.description:
        document["description"] = connector.description
    document["enabled"] = connector.enabled
    if connector.trigger != Connector.Trigger.WEBHOOK:
        document["trigger"] = exported_trigger(connector)
    document["field_mapping"] = connector.field_mapping or {}
    if connector.mail_fields:
        document["mail_fields"] = connector.mail_fields
    document["steps"] = [
        {
            "name": step.name,
            "delay": step.delay,
            "filters": step.filters or [],
            "iterator": step.iterator,
            "actions": [export_action(action) for action in step.actions.all()],
        }
        for step in steps
    ]
    return document


def export_action(action):
    action_type = get_type(action.type)
    config = action.config or {}
    exported = {
        "type": action.type,
        # Secrets are write-only: an export never carries them.
        "config": action_type.exported_config(config) if action_type else config,
    }
    if action.name:
        exported["name"] = action.name
    if not action.enabled:
        exported["enabled"] = False
    return exported


def exported_trigger(connector):
    """The connector's trigger as the document gives it (the channel, module or button it
    names by name)."""
    trigger = {"type": connector.trigger}
    if connector.trigger == Connector.Trigger.INBOUND_MESSAGE:
        channel = connector.trigger_channel
        trigger["channel"] = channel.name if channel else None
    elif connector.trigger in Connector.GROUP_TRIGGERS.values():
        group = connector.trigger_group
        trigger["channel"] = group.channel.name if group else None
        trigger["group"] = group.subject if group else None
    elif connector.trigger == Connector.Trigger.MACRO_BUTTON:
        button = connector.trigger_macro
        trigger["module"] = button.module.name if button else None
        trigger["button"] = button.name if button else None
    else:
        module = connector.trigger_module
        trigger["module"] = module.name if module else None
    return trigger


def import_connector(project, data, name=None, published_by=None, note="Imported"):
    """Create a connector in `project` from a document; `name` overrides the document's.
    It is published at once (its version 1, by `published_by`, with `note`), its draft the
    same.

    Raises ConnectorImportError listing every problem; nothing is written then.
    The new connector gets a new token (a URL of its own).
    """
    # versions exports with this module: a module-level import would be a circle.
    from .versions import publish_connector

    document = clean_document(project, data, name=name)
    try:
        with transaction.atomic():
            connector = Connector.objects.create(
                project=project,
                name=document["name"],
                description=document["description"],
                enabled=document["enabled"],
                **document["trigger"],
                field_mapping=document["field_mapping"],
                mail_fields=document["mail_fields"],
            )
            actions = []
            for position, step_data in enumerate(document["steps"]):
                step = Step.objects.create(
                    connector=connector,
                    position=position,
                    name=step_data["name"],
                    delay=step_data["delay"],
                    filters=step_data["filters"],
                    iterator=step_data["iterator"],
                )
                actions.extend(
                    Action(step=step, position=index, **action_data)
                    for index, action_data in enumerate(step_data["actions"])
                )
            Action.objects.bulk_create(actions)
            publish_connector(connector, published_by, note=note)
    except IntegrityError as exc:
        # Another import or the admin took the name between our check and the insert.
        raise ConnectorImportError([("name", import_name_taken_message(document["name"]))]) from exc
    return connector


def name_taken_message(name):
    return f"A connector named {name!r} already exists in this project"


def import_name_taken_message(name):
    return f"{name_taken_message(name)}; import it under another name"


def clean_document(project, data, name=None):
    """The document's values ready to save, or ConnectorImportError with every problem."""
    if not isinstance(data, dict):
        raise ConnectorImportError(
            [("", f"the connector JSON must be an object, not {json_type(data)}")]
        )
    errors = []
    if data.get("format") != FORMAT:
        errors.append(("format", f'must be "{FORMAT}"'))
    errors.extend(unknown_key_errors(data, CONNECTOR_KEYS, ""))

    connector_name = data.get("name") if name is None else name
    name_problems = name_errors(connector_name, "name", required=True)
    errors.extend(name_problems)
    # Looked up only when it is text the database can compare.
    if not name_problems:
        connector_name = connector_name.strip()
        if (
            connector_name
            and Connector.objects.filter(project=project, name=connector_name).exists()
        ):
            errors.append(("name", import_name_taken_message(connector_name)))

    description = optional(data, "description", "")
    if not isinstance(description, str):
        errors.append(("description", "must be text"))
    enabled = data.get("enabled", True)
    errors.extend(bool_errors(enabled, "enabled"))
    trigger = clean_trigger(project, data.get("trigger"), errors)
    field_mapping = data.get("field_mapping")
    errors.extend(field_mapping_errors(field_mapping))
    mail_fields = data.get("mail_fields") or []
    errors.extend(
        ("mail_fields" if index is None else f"mail_fields[{index}]", message)
        for index, message in mail_fields_errors(mail_fields)
    )

    steps = data.get("steps", [])
    cleaned_steps = []
    if isinstance(steps, list):
        for index, step in enumerate(steps):
            cleaned_steps.append(clean_step(project, step, f"steps[{index}]", errors))
    else:
        errors.append(("steps", f"must be a list of steps, not {json_type(steps)}"))

    if errors:
        raise ConnectorImportError(errors)
    return {
        "name": connector_name,
        "description": description,
        "enabled": enabled,
        "trigger": trigger,
        "field_mapping": field_mapping or {},
        "mail_fields": mail_fields,
        "steps": cleaned_steps,
    }


def clean_trigger(project, trigger, errors, path="trigger"):
    """The connector's trigger fields (trigger, trigger_channel, trigger_module,
    trigger_macro) of a document's `trigger`; absent or null: the URL only. Its problems
    are appended to `errors`."""
    fields = {"trigger": Connector.Trigger.WEBHOOK}
    if trigger is None:
        return fields
    if not isinstance(trigger, dict):
        errors.append((path, f"must be an object or null, not {json_type(trigger)}"))
        return fields
    errors.extend(unknown_key_errors(trigger, TRIGGER_KEYS, path))
    kind = trigger.get("type")
    if kind not in Connector.Trigger.values:
        shown = repr(kind) if kind is not None else "missing"
        errors.append(
            (
                f"{path}.type",
                f"unknown trigger ({shown}); known: {', '.join(Connector.Trigger.values)}",
            )
        )
        return fields
    fields["trigger"] = kind
    names = {key: trigger.get(key) for key in ("channel", "module", "button", "group")}
    takes = TRIGGER_NAMES[kind]
    for key, name in names.items():
        if name is not None and key not in takes:
            errors.append((f"{path}.{key}", ONLY_TRIGGERS_WITH[key]))
        elif key in takes and key != "channel" and name is None:
            errors.append((f"{path}.{key}", f"is required for a {kind} trigger"))
    for key in takes:
        name = names[key]
        if name is None:
            continue
        if not isinstance(name, str) or not name.strip() or unstorable_character(name):
            shown = "a channel's name, or null for any channel" if key == "channel" else "a name"
            errors.append((f"{path}.{key}", f"must be {shown}"))
            return fields
        names[key] = name.strip()
    if "group" in takes:
        fields["trigger_group"] = trigger_group(project, kind, names, errors, path)
        return fields
    if "channel" in takes and names["channel"] is not None:
        channel = project.channels.filter(name=names["channel"]).first()
        if channel is None:
            errors.append((f"{path}.channel", unknown_channel_message(project, names["channel"])))
        fields["trigger_channel"] = channel
    if "module" in takes and names["module"] is not None:
        module = find_module(project, names["module"])
        if module is None:
            errors.append((f"{path}.module", unknown_module_message(project, names["module"])))
        elif "button" in takes and names["button"] is not None:
            fields["trigger_macro"] = macro_button(module, names["button"], errors, path)
        else:
            fields["trigger_module"] = module
    return fields


ONLY_TRIGGERS_WITH = {
    "channel": f"only an {Connector.Trigger.INBOUND_MESSAGE} trigger has a channel",
    "module": "only record_created, record_updated, record_deleted and macro_button "
    "triggers have a module",
    "button": f"only a {Connector.Trigger.MACRO_BUTTON} trigger has a button",
    "group": "only group_joined and group_left triggers have a group",
}
# The names each trigger takes in the document.
TRIGGER_NAMES = {
    Connector.Trigger.WEBHOOK: (),
    Connector.Trigger.INBOUND_MESSAGE: ("channel",),
    Connector.Trigger.RECORD_CREATED: ("module",),
    Connector.Trigger.RECORD_UPDATED: ("module",),
    Connector.Trigger.RECORD_DELETED: ("module",),
    Connector.Trigger.MACRO_BUTTON: ("module", "button"),
    Connector.Trigger.GROUP_JOINED: ("channel", "group"),
    Connector.Trigger.GROUP_LEFT: ("channel", "group"),
}


def trigger_group(project, kind, names, errors, path):
    """The WhatsApp group a group trigger names (by its channel and subject), or None with
    the problem appended to `errors`."""
    if names["channel"] is None:
        errors.append((f"{path}.channel", f"is required for a {kind} trigger"))
        return None
    try:
        channel = group_members.group_channel(project, names["channel"])
    except group_members.GroupError as exc:
        errors.append((f"{path}.channel", exc.message))
        return None
    if names["group"] is None:
        return None
    group = group_members.find_group(channel, names["group"])
    if group is None:
        message = group_members.unknown_group_message(channel, names["group"])
        errors.append((f"{path}.group", message))
    return group


def macro_button(module, name, errors, path):
    """The module's macro button called `name` (whatever its case), or None with the
    problem appended to `errors`."""
    button = find_macro_button(module, name)
    if button is None:
        names = macro_buttons_of(module).values_list("name", flat=True)
        where = "add one on the module's page under CRM › Modules"
        errors.append(
            (
                f"{path}.button",
                f"{module} has no macro button {name!r}. " + listed(names, "macro buttons", where),
            )
        )
    return button


def clean_step(project, step, path, errors):
    """The step's values ready to save in `project`; its problems are appended to `errors`."""
    if not isinstance(step, dict):
        errors.append((path, f"must be an object, not {json_type(step)}"))
        return None
    errors.extend(unknown_key_errors(step, STEP_KEYS, path))
    name = optional(step, "name", "")
    errors.extend(name_errors(name, f"{path}.name", required=False))
    filters = step.get("filters")
    errors.extend((f"{path}.{where}", message) for where, message in filter_errors(filters))
    delay = step.get("delay")
    errors.extend(step_delay_errors(delay, f"{path}.delay"))
    iterator = step.get("iterator")
    errors.extend(iterator_errors(iterator, f"{path}.iterator"))

    actions = step.get("actions", [])
    cleaned_actions = []
    if isinstance(actions, list):
        for index, action in enumerate(actions):
            cleaned_actions.append(
                clean_action(project, action, f"{path}.actions[{index}]", errors)
            )
    else:
        errors.append((f"{path}.actions", f"must be a list of actions, not {json_type(actions)}"))
    return {
        "name": name,
        "delay": delay,
        "filters": filters or [],
        "iterator": iterator,
        "actions": cleaned_actions,
    }


def clean_action(project, action, path, errors):
    """The action's values ready to save in `project`, config validated by its type's form
    (the names it gives, a channel or a member, must be the project's)."""
    if not isinstance(action, dict):
        errors.append((path, f"must be an object, not {json_type(action)}"))
        return None
    errors.extend(unknown_key_errors(action, ACTION_KEYS, path))
    name = optional(action, "name", "")
    errors.extend(name_errors(name, f"{path}.name", required=False))
    enabled = action.get("enabled", True)
    errors.extend(bool_errors(enabled, f"{path}.enabled"))

    type_key = action.get("type")
    action_type = get_type(type_key) if isinstance(type_key, str) else None
    if action_type is None:
        shown = repr(type_key) if type_key is not None else "missing"
        errors.append((f"{path}.type", f"unknown action type ({shown})"))
    config = action.get("config", {})
    if not isinstance(config, dict):
        errors.append((f"{path}.config", f"must be an object, not {json_type(config)}"))
        return None
    if action_type is None:
        return None
    try:
        cleaned = action_type.validate(config, project)
    except forms.ValidationError as exc:
        errors.extend(config_errors(project, action_type, config, exc, f"{path}.config"))
        return None
    return {"type": type_key, "name": name, "enabled": enabled, "config": cleaned}


def config_errors(project, action_type, config, exc, path):
    """(path, message) pairs, one per message, for a config its type refused.

    The messages are read from the type's form (its errors keep one clean
    message each); a refusal from beyond the form comes from `exc`.
    """
    form = action_type.config_form(config, project)
    if form.is_valid():
        return [(path, message) for message in exc.messages]
    return [
        (path if field == NON_FIELD_ERRORS else f"{path}.{field}", message)
        for field, messages in form.errors.items()
        for message in messages
    ]


def field_mapping_errors(mapping, path="field_mapping"):
    """Problems of a connector's field mapping: which contact fields come from where.

    Shape: {"number": template, "name": template, "email": template,
    "attributes": {attribute name: template or plain value}}; every key is optional.
    """
    if mapping in (None, {}):
        return []
    if not isinstance(mapping, dict):
        return [(path, f"must be an object, not {json_type(mapping)}")]
    errors = unknown_key_errors(mapping, (*MAPPED_CONTACT_FIELDS, "attributes"), path)
    for field in MAPPED_CONTACT_FIELDS:
        if field in mapping:
            errors.extend(template_value_errors(mapping[field], f"{path}.{field}"))
    attributes = mapping.get("attributes")
    if attributes is None:
        return errors
    if not isinstance(attributes, dict):
        errors.append((f"{path}.attributes", "must be an object of attribute name: template"))
        return errors
    for attribute, value in attributes.items():
        where = f"{path}.attributes.{attribute}"
        if not attribute.strip():
            errors.append((f"{path}.attributes", "an attribute name is empty"))
        if isinstance(value, (dict, list)):
            errors.append((where, "must be a template or a plain value, not a list or object"))
        elif isinstance(value, str):
            errors.extend(template_value_errors(value, where))
    return errors


def step_delay_errors(delay, path):
    """Problems of a step's delay, as connectors.delays sees them, with JSON paths."""
    return [
        (path if key == "delay" else f"{path}.{key}", message)
        for key, message in delay_errors(delay).items()
    ]


def iterator_errors(iterator, path):
    """Problems of a step's iterator: null or {"path": JMESPath, "max": N}."""
    if iterator is None:
        return []
    if not isinstance(iterator, dict):
        return [(path, f"must be null or an object, not {json_type(iterator)}")]
    errors = unknown_key_errors(iterator, ITERATOR_KEYS, path)
    items_path = iterator.get("path")
    if not isinstance(items_path, str) or not items_path.strip():
        errors.append((f"{path}.path", "is required: the path of a list, e.g. event.items"))
    else:
        try:
            compile_path(items_path)
        except TemplateSyntaxError as exc:
            errors.append((f"{path}.path", f"{exc} (write the path without {{{{ }}}})"))
    limit = iterator.get("max")
    if limit is not None and (not is_integer(limit) or limit < 1):
        errors.append((f"{path}.max", "must be a whole number of 1 or more"))
    return errors


def template_value_errors(value, path):
    if not isinstance(value, str):
        return [(path, f"must be text (a template), not {json_type(value)}")]
    return [(path, message) for message in template_errors(value)]


def name_errors(name, path, required):
    if not isinstance(name, str):
        return [(path, f"must be text, not {json_type(name)}")]
    if required and not name.strip():
        return [(path, "is required")]
    unstorable = unstorable_character(name)
    if unstorable:
        return [(path, f"holds {unstorable}, which cannot be stored")]
    if len(name) > NAME_MAX_LENGTH:
        return [(path, f"must be at most {NAME_MAX_LENGTH} characters")]
    return []


def bool_errors(value, path):
    if not isinstance(value, bool):
        return [(path, f"must be true or false, not {json_type(value)}")]
    return []


def unknown_key_errors(data, known, path):
    return [
        (f"{path}.{key}" if path else str(key), f"unknown key; known keys: {', '.join(known)}")
        for key in data
        if key not in known
    ]


def optional(data, key, default):
    """data[key], with null or absence meaning the default."""
    value = data.get(key)
    return default if value is None else value


def is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def json_type(value):
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"
