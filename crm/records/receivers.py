"""A new project gets the prebuilt modules (crm/records/prebuilt.py); a field saved or
deleted raises its module's fields revision (searches cache fields by it); a field marked
sortable or unique gets its index, built after the save commits (crm/records/indexes.py);
a CSV import deleted (or its module's) takes its kept file with it."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from picky.models import Project

from .criteria import fields_changed, forget_fields
from .indexes import sort_index_name, sync_field_indexes, unique_index_name
from .models import Field, Module, RecordImport
from .prebuilt import create_prebuilt_modules
from .queries import drop_index


@receiver(post_save, sender=Project, dispatch_uid="crm_prebuilt_modules")
def give_prebuilt_modules(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        create_prebuilt_modules(instance, Module, Field)


@receiver(post_save, sender=Module, dispatch_uid="crm_module_fields_new")
@receiver(post_delete, sender=Module, dispatch_uid="crm_module_fields_gone")
def forget_module_fields(sender, instance, **kwargs):
    # SQLite may give a new module the id of one rolled back: no fields kept under it.
    forget_fields(instance.pk)


@receiver(post_save, sender=Field, dispatch_uid="crm_field_revision_saved")
@receiver(post_delete, sender=Field, dispatch_uid="crm_field_revision_deleted")
def raise_fields_revision(sender, instance, **kwargs):
    fields_changed(instance.module_id)


@receiver(pre_save, sender=Field, dispatch_uid="crm_field_indexes_before")
def remember_indexed_state(sender, instance, raw=False, **kwargs):
    instance._indexed_before = (
        None
        if raw or instance.pk is None
        else Field.objects.filter(pk=instance.pk)
        .values_list("type", "key", "sortable", "unique")
        .first()
    )


@receiver(post_save, sender=Field, dispatch_uid="crm_field_indexes")
def index_saved_field(sender, instance, raw=False, **kwargs):
    previous = getattr(instance, "_indexed_before", None)
    now = (instance.type, instance.key, instance.sortable, instance.unique)
    if raw or previous == now or (previous is None and not (instance.sortable or instance.unique)):
        return
    transaction.on_commit(lambda: sync_field_indexes(instance, previous))


@receiver(post_delete, sender=Field, dispatch_uid="crm_field_indexes_dropped")
def drop_deleted_field_indexes(sender, instance, **kwargs):
    field_id = instance.pk
    if instance.sortable:
        transaction.on_commit(lambda: drop_index(sort_index_name(field_id)))
    if instance.unique:
        transaction.on_commit(lambda: drop_index(unique_index_name(field_id)))


@receiver(post_delete, sender=RecordImport, dispatch_uid="crm_record_import_file")
def delete_import_file(sender, instance, **kwargs):
    # After the commit: a rolled-back deletion keeps its file.
    file = instance.file
    if file:
        transaction.on_commit(lambda: file.storage.delete(file.name))
