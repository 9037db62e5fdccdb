"""A new project gets the prebuilt modules (crm/records/prebuilt.py)."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from picky.models import Project

from .models import Field, Module
from .prebuilt import create_prebuilt_modules


@receiver(post_save, sender=Project, dispatch_uid="crm_prebuilt_modules")
def give_prebuilt_modules(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        create_prebuilt_modules(instance, Module, Field)
