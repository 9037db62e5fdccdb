from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from picky.models import Project
from picky.services import create_project


class Command(BaseCommand):
    help = "Create a project (tenant) with an existing user as its owner."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", required=True, help="username of the owner")
        parser.add_argument("--time-zone", default="UTC")

    def handle(self, slug, name, owner, time_zone, **options):
        if Project.objects.filter(slug=slug).exists():
            raise CommandError(f"A project with slug {slug!r} exists already.")
        try:
            project = create_project(slug, name, owner, time_zone=time_zone)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user named {owner!r}.") from exc
        self.stdout.write(f"Created project {project.slug} ({project.name}), owner {owner}.")
