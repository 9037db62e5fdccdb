"""Signal receivers of the connectors app."""

from django.db.models import F
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from actions.models import Action
from crm.models import Module
from crm.records.models import MacroButton
from crm.signals import macro_submitted, record_changed
from teambox.models import Message, WhatsAppGroup
from teambox.signals import group_members_changed, messages_received

from .delays import cancel_schedules
from .group_triggers import start_group_runs
from .macro_triggers import start_macro_runs
from .models import Connector, Step
from .triggers import start_message_runs, start_record_runs


@receiver(pre_delete, sender=Step)
def stop_runs_waiting_on_a_deleted_step(sender, instance, **kwargs):
    """A run parked on a step's delay must not wait forever once the step is gone."""
    cancel_schedules(
        instance.schedules.all(),
        f"The step “{instance}” was deleted while the run waited on its delay.",
    )


@receiver(post_save, sender=Step)
@receiver(post_delete, sender=Step)
@receiver(post_save, sender=Action)
@receiver(post_delete, sender=Action)
def bump_connector_revision(sender, instance, **kwargs):
    """Workers cache a connector's steps by revision: any change makes them reload."""
    connector_id = instance.connector_id if sender is Step else instance.step.connector_id
    Connector.objects.filter(pk=connector_id).update(revision=F("revision") + 1)


@receiver(messages_received, sender=Message)
def start_connectors_on_messages(sender, messages, channel, **kwargs):
    """The connectors triggered by the messages' channel each get an event per message."""
    start_message_runs(messages, channel)


@receiver(record_changed, sender=Module)
def start_connectors_on_record_changes(sender, module, record, before, change, **kwargs):
    """The connectors triggered by this change of the module's records get an event."""
    start_record_runs(module, record, before, change)


@receiver(macro_submitted, sender=MacroButton)
def start_connectors_on_macro_buttons(sender, button, record, author, entry_id, **kwargs):
    """The connectors triggered by the button get an event of the agent's submission."""
    start_macro_runs(button, record, author, entry_id)


@receiver(group_members_changed, sender=WhatsAppGroup)
def start_connectors_on_group_members(sender, group, numbers, action, **kwargs):
    """The connectors triggered by the group get an event per number that joined or left."""
    start_group_runs(group, numbers, action)
