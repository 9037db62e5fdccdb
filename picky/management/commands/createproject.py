from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from picky.models import Project
from picky.services import create_project


def validation_message(error):
    return "; ".join(
        f"{field}: {message}"
        for field, messages in error.message_dict.items()
        for message in messages
    )


class Command(BaseCommand):
    help = "Create a project (tenant) with an existing user as its owner."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", required=True, help="username of the owner")
        parser.add_argument("--time-zone", default="UTC", help="IANA name, e.g. Asia/Kolkata")

    def handle(self, slug, name, owner, time_zone, **options):
        if Project.objects.filter(slug=slug).exists():
            raise CommandError(f"A project with slug {slug!r} exists already.")
        owner_user = get_user_model().objects.filter(username=owner).first()
        if owner_user is None:
            raise CommandError(f"No user named {owner!r}.")
        try:
            Project(slug=slug, name=name.strip(), time_zone=time_zone).full_clean(
                exclude=["retention_days", "http_rate_limit_per_minute"]
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        with transaction.atomic():
            project = create_project(slug, name.strip(), owner, time_zone=time_zone)
            # The owner works in the admin, which only staff users may enter.
            if not owner_user.is_staff:
                owner_user.is_staff = True
                owner_user.save(update_fields=["is_staff"])
        self.stdout.write(f"Created project {project.slug} ({project.name}), owner {owner}.")
